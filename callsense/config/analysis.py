"""Settings of what the LLM is asked about a call: the taxonomy its topic is chosen from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TOPIC_LABEL_MAX_CHARS = 60


class TopicLabel(BaseModel):
    """One call driver: the label stored and counted, and what it covers (told to the model)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    label: str = Field(min_length=1, max_length=TOPIC_LABEL_MAX_CHARS, description="The label stored.")
    description: str = Field(
        min_length=1, max_length=200, description="What calls it covers, in a few words, for the prompt."
    )

    @model_validator(mode="before")
    @classmethod
    def _described(cls, value: Any) -> Any:
        """Name the label left without a description: "analysis.topics.7.description: Field required" made
        an admin count the tables of the file."""
        if isinstance(value, dict) and isinstance(value.get("label"), str) and value["label"].strip():
            description = value.get("description")
            if description is None or (isinstance(description, str) and not description.strip()):
                raise ValueError(
                    f"the label '{value['label'].strip()}' needs a description: what calls it covers, in a "
                    "few words (the model reads it)"
                )
        return value


DEFAULT_TOPICS = (
    TopicLabel(label="Billing and payments", description="bills, charges, payments"),
    TopicLabel(label="Refund request", description="wants money back"),
    TopicLabel(label="Cancellation", description="ending a contract or service"),
    TopicLabel(label="Technical support", description="something does not work"),
    TopicLabel(label="Account access", description="sign-in, passwords"),
    TopicLabel(label="Account changes", description="details, address, plan"),
    TopicLabel(label="Orders and delivery", description="order status, shipping, parcels"),
    TopicLabel(label="Sales and upgrades", description="buying, upgrading"),
    TopicLabel(label="Bookings and reservations", description="making or changing a booking"),
    TopicLabel(label="Fraud and security", description="suspicious activity, scams"),
    TopicLabel(label="Complaint", description="unhappy with service, no other request"),
    TopicLabel(label="Product information", description="how a product works"),
    TopicLabel(label="Other", description="none of these"),
)


class AnalysisSettings(BaseModel):
    """What the LLM writes about each call besides summary and sentiment."""

    model_config = ConfigDict(extra="forbid")

    topics: tuple[TopicLabel, ...] = Field(
        default=DEFAULT_TOPICS,
        max_length=40,
        description="The call-driver taxonomy: the topic of a call is exactly one of these labels (the "
        "specific phrase is kept in topic_detail). Each label's description goes into the prompt. Keep a "
        "catch-all such as 'Other'. TOML: [[analysis.topics]] label = '...' description = '...'.",
    )

    @field_validator("topics")
    @classmethod
    def _two_distinct_labels(cls, value: tuple[TopicLabel, ...]) -> tuple[TopicLabel, ...]:
        # Counted here, once every label is valid: pydantic's min_length counted only the valid ones, and
        # two labels, one without a description, were also refused as "at least 2 items ..., not 1".
        if len(value) < 2:
            raise ValueError(
                f"list at least 2 labels, one of them a catch-all such as 'Other' ({len(value)} given)"
            )
        seen: dict[str, str] = {}
        for topic in value:
            first = seen.setdefault(topic.label.casefold(), topic.label)
            if first is not topic.label:
                raise ValueError(f"topic labels must differ (ignoring case): '{first}' and '{topic.label}'")
        return value
