"""Settings of the CRM destinations (the ``deliveries`` section of the settings file).

Each destination names what leaves the building: ``fields`` lists the record fields it may carry, and the
subject and body templates may only use those. Everything else (the original-language transcript, the
customer's number...) stays home unless listed.
"""

from __future__ import annotations

import string
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from callsense.config.service import webhook_secret_key
from callsense.errors import ConfigError


class DestinationKind(StrEnum):
    webhook = "webhook"
    hubspot = "hubspot"
    salesforce = "salesforce"
    dynamics = "dynamics"
    bottlecrm = "bottlecrm"


class ContactLookup(StrEnum):
    phone = "phone"
    metadata = "metadata"
    none = "none"


class NoMatch(StrEnum):
    create = "create"
    skip = "skip"
    unattached = "unattached"


# The record fields a mapping may name. ``transcript`` is the original-language text;
# ``translated_transcript`` the English one. ``talk`` is the whole talk-figures object (a webhook gets it as
# JSON, a template one line of shares and counts); ``speakers`` how speakers and the agent were told apart
# (its ``method``, ``confidence``, ``agent_source``...). ``customer_number`` leaves only when named (the phone
# look-up sends it as a query, too). ``categories`` are the names of the call's categories (no evidence).
MAPPABLE_FIELDS = (
    "call_id",
    "timestamp",
    "duration",
    "direction",
    "agent",
    "customer_number",
    "language",
    "summary",
    "topic",
    "topic_detail",
    "sentiment",
    "emotion",
    "speaker_sentiment",
    "talk",
    "speakers",
    "non_talk_seconds",
    "interruptions",
    "sentiment_trend",
    "issues",
    "action_items",
    "outcome",
    "categories",
    "transcript",
    "translated_transcript",
)
# The fields that hold what was said, redacted when redaction is on; a destination may take the original of
# each by naming it in ``unredacted_fields`` (docs/delivery.md warns against it).
REDACTED_FIELDS = ("summary", "topic_detail", "issues", "action_items", "transcript", "translated_transcript")
DEFAULT_FIELDS = ["call_id", "timestamp", "duration", "direction", "summary", "topic", "sentiment", "emotion"]
DEFAULT_SUBJECT = "Call {call_id}: {topic}"
DEFAULT_BODY = "{summary}\n\nTopic: {topic}\nSentiment: {sentiment}\nEmotion: {emotion}"


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class DestinationSettings(BaseModel):
    """One CRM (or webhook receiver) that analysed calls are delivered to."""

    model_config = {"extra": "forbid"}

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Unique name (lower-case letters, digits, '-', '_'); shown in "
        "`callsense deliveries list`. Renaming a destination makes it a new one.",
    )
    kind: DestinationKind = Field(description="webhook, hubspot, salesforce, dynamics or bottlecrm.")
    enabled: bool = Field(default=True, description="Disabled destinations get no new deliveries.")
    base_url: str = Field(
        description="webhook: the URL posted to; hubspot: https://api.hubapi.com; salesforce: the instance "
        "URL (https://acme.my.salesforce.com); dynamics: the organisation URL (https://acme.crm.dynamics.com "
        "or the on-premises one); bottlecrm: the API's base URL (https://crm.example.com)."
    )
    token: SecretStr | None = Field(
        default=None,
        description="hubspot: private-app token; salesforce: OAuth access token; "
        "dynamics: OAuth bearer token; bottlecrm: personal access token (bcrm_pat_...). "
        "Sent as 'Authorization: Bearer'.",
    )
    secret: SecretStr | None = Field(
        default=None,
        description="webhook: the Standard Webhooks signing secret, whsec_ and base64 (make one with "
        "`echo whsec_$(openssl rand -base64 32)` and give it to the receiver).",
    )
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        description="Record fields this destination may receive, from: " + ", ".join(MAPPABLE_FIELDS) + ". "
        "Leave out 'transcript' to keep the original-language transcript home.",
    )
    unredacted_fields: list[str] = Field(
        default_factory=list,
        description="Fields sent as said instead of redacted (personal data, card numbers included), from: "
        + ", ".join(REDACTED_FIELDS)
        + ". Each must also be in fields. Empty (the default): every field leaves redacted. "
        "See the warning in docs/delivery.md.",
    )
    subject_template: str = Field(
        default=DEFAULT_SUBJECT, description="Subject/title, with {field} placeholders from fields."
    )
    body_template: str = Field(
        default=DEFAULT_BODY,
        description="Body/description, with {field} placeholders from fields "
        "({summary} is one bullet a line).",
    )
    transcript_excerpt_chars: int = Field(
        default=2000, ge=0, le=100_000, description="Longest transcript text put in a body; 0 for no limit."
    )
    contact_lookup: ContactLookup = Field(
        default=ContactLookup.phone,
        description="How the CRM contact is found: by the customer's phone number, by an id in the webhook "
        "metadata (contact_id_key), or not at all.",
    )
    contact_id_key: str = Field(
        default="crm_contact_id", description="metadata look-up: the metadata key holding the CRM contact id."
    )
    no_match: NoMatch = Field(
        default=NoMatch.unattached,
        description="When no contact matches: 'create' one (with the customer's number), 'skip' the "
        "delivery, or log the call 'unattached' (not possible in BottleCRM, where a call needs a record).",
    )
    call_id_property: str = Field(
        default="callsense_call_id",
        description="hubspot: the custom call property holding the call id (create it once in HubSpot); "
        "it makes a retried delivery find the call it already created.",
    )
    api_version: str | None = Field(
        default=None,
        description="salesforce: REST version (default v60.0); dynamics: Web API (default v9.2).",
    )
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Longest wait for one CRM request.")
    proxy_url: str | None = Field(
        default=None,
        description="HTTP(S) proxy to reach this destination through (http://proxy.corp:3128). Unset: "
        "direct; the HTTP_PROXY / HTTPS_PROXY variables are ignored, so call content never takes a route "
        "the settings do not name.",
    )
    max_age_h: float = Field(
        default=24.0, gt=0, description="Hours a delivery keeps being retried before it is dead-lettered."
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in MAPPABLE_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; choose from {', '.join(MAPPABLE_FIELDS)}"
            )
        return list(dict.fromkeys(value))

    @field_validator("unredacted_fields")
    @classmethod
    def _redactable(cls, value: list[str]) -> list[str]:
        other = [name for name in value if name not in REDACTED_FIELDS]
        if other:
            raise ValueError(
                f"unredacted_fields: {', '.join(other)} is never redacted; "
                f"choose from {', '.join(REDACTED_FIELDS)}"
            )
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> DestinationSettings:
        parts = urlsplit(self.base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                f"destination {self.name}: base_url must be an http(s) URL, not '{self.base_url}'"
            )
        if self.proxy_url is not None:
            proxy = urlsplit(self.proxy_url)
            if proxy.scheme not in {"http", "https"} or not proxy.hostname:
                raise ValueError(f"destination {self.name}: proxy_url must be an http(s) URL")
        templates = [("subject_template", self.subject_template), ("body_template", self.body_template)]
        if self.kind is DestinationKind.webhook:
            templates = []  # a webhook sends the mapped fields themselves, no text
        for label, template in templates:
            try:
                names = template_fields(template)
            except ValueError as exc:
                raise ValueError(f"destination {self.name}: {label} is not a valid template: {exc}") from exc
            outside = sorted(names - set(self.fields))
            if outside:
                raise ValueError(
                    f"destination {self.name}: {label} uses {', '.join(outside)}, which is not in its fields "
                    "(only fields listed there may leave)"
                )
        unsent = sorted(set(self.unredacted_fields) - set(self.fields))
        if unsent:
            raise ValueError(
                f"destination {self.name}: unredacted_fields names {', '.join(unsent)}, "
                "which is not in its fields"
            )
        if self.kind is DestinationKind.webhook:
            if self.secret is None:
                raise ValueError(f"destination {self.name}: a webhook needs secret (whsec_...)")
            try:
                webhook_secret_key(self.secret.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"destination {self.name}: secret {exc}") from None
        elif self.token is None:
            raise ValueError(f"destination {self.name}: {self.kind.value} needs token")
        if self.kind is DestinationKind.bottlecrm and self.no_match is NoMatch.unattached:
            raise ValueError(
                f"destination {self.name}: BottleCRM files a call on a record, so no_match must be "
                "'create' or 'skip'"
            )
        if self.no_match is NoMatch.create and "customer_number" not in self.fields:
            raise ValueError(
                f"destination {self.name}: no_match 'create' makes a contact from the customer's number, "
                "so fields must include customer_number"
            )
        return self


class DeliverySettings(BaseModel):
    """Delivery of analysed calls to CRMs and webhook receivers."""

    model_config = ConfigDict(extra="forbid")

    destinations: list[DestinationSettings] = Field(
        default_factory=list,
        description="The destinations (a TOML array of tables [[deliveries.destinations]]); each enabled one "
        "gets every analysed call once. See docs/delivery.md.",
    )

    retry_initial_s: float = Field(
        default=10.0,
        gt=0,
        description="First wait before retrying a failed delivery; doubles each try (jittered).",
    )
    retry_max_s: float = Field(default=3600.0, gt=0, description="Longest wait between two delivery tries.")

    @field_validator("destinations")
    @classmethod
    def _unique_names(cls, value: list[DestinationSettings]) -> list[DestinationSettings]:
        names = [destination.name for destination in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"destination names must be unique: {', '.join(twice)}")
        return value

    def enabled(self) -> list[DestinationSettings]:
        return [destination for destination in self.destinations if destination.enabled]

    def named(self, name: str) -> DestinationSettings | None:
        return next((destination for destination in self.destinations if destination.name == name), None)

    def check_configured(self, name: str | None) -> None:
        """Refuse a destination name (when one is given) that the settings do not hold, naming those they
        do: a typo would otherwise answer as if the destination had nothing to list or retry."""
        if name is not None and self.named(name) is None:
            configured = ", ".join(destination.name for destination in self.destinations) or "none"
            raise ConfigError(f"no destination named '{name}' is configured (destinations: {configured})")
