"""Settings of the retention policy (the ``retention`` section): how long recordings and text are kept.

A call's age counts from when it was made (``started_at``), or else from when it reached callsense. Days
unset keep forever. A source's own rule (``retention.sources.<name>``) overrides either figure for the calls
that source took; calls from webhooks, the API or the CLI follow the defaults. ``docs/archive.md``
("Retention") describes what a purge removes and what stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_DAYS = 36_500  # a hundred years: anything longer is a typo for "forever"
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
# "forever" can be written in TOML, which has no null: it keeps for ever where a default would purge.
Keep = Days | Literal["forever"] | None


@dataclass(frozen=True)
class Policy:
    """Days to keep each part of a call; None keeps it for ever."""

    audio_days: int | None
    text_days: int | None


def _days(value: Keep) -> int | None:
    return None if value == "forever" else value


class SourceRetention(BaseModel):
    """One source's retention rule: either figure unset follows the default."""

    model_config = ConfigDict(extra="forbid")

    audio_days: Keep = Field(
        default=None,
        description='Days this source\'s recordings are kept, or "forever". Unset: retention.audio_days.',
    )
    text_days: Keep = Field(
        default=None,
        description='Days this source\'s transcripts and analyses are kept, or "forever". '
        "Unset: retention.text_days.",
    )


class RetentionSettings(BaseModel):
    """How long recordings and their text are kept; legal holds and erasure: docs/archive.md."""

    model_config = ConfigDict(extra="forbid")

    audio_days: Keep = Field(
        default=None,
        description="Days a call's recording is kept before the purge deletes it from the blob store "
        '(1 to 36500, or "forever"). Unset: kept for ever.',
    )
    text_days: Keep = Field(
        default=None,
        description="Days a call's transcript, translation, analysis and search words are kept (1 to 36500, "
        'or "forever"); the call\'s metadata row, its categorical results and talk figures stay. '
        "Unset: kept for ever.",
    )
    sources: dict[str, SourceRetention] = Field(
        default_factory=dict,
        description="Rules per recording source, by the source's name (a table per source, e.g. "
        "[retention.sources.nas] audio_days = 30); each must name a configured source.",
    )
    purge_cron: str = Field(
        default="17 3 * * *",
        description="When the retention purge runs (cron, UTC): daily at 03:17 by "
        "default. It runs only when some days are set.",
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Calls purged per transaction: smaller holds locks shorter.",
    )

    @field_validator("purge_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"purge_cron '{value}' is not a cron line")
        return value

    @property
    def default(self) -> Policy:
        return Policy(audio_days=_days(self.audio_days), text_days=_days(self.text_days))

    def policy(self, source: str | None) -> Policy:
        """The rule for calls a source took (None: from a webhook, the API or the CLI)."""
        rule = self.sources.get(source) if source is not None else None
        if rule is None:
            return self.default
        fields = rule.model_fields_set
        return Policy(
            audio_days=_days(rule.audio_days) if "audio_days" in fields else self.default.audio_days,
            text_days=_days(rule.text_days) if "text_days" in fields else self.default.text_days,
        )

    @property
    def active(self) -> bool:
        """Whether any rule purges anything."""
        policies = [self.default, *(self.policy(name) for name in self.sources)]
        return any(p.audio_days is not None or p.text_days is not None for p in policies)
