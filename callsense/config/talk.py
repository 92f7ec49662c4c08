"""Settings of the talk figures (talk time, interruptions, non-talk time): the thresholds that define them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TalkSettings(BaseModel):
    """Thresholds of the talk figures measured from word timings (docs/analytics.md, "Talk figures").
    Stored with each call's figures, so a record says which thresholds produced it."""

    model_config = ConfigDict(frozen=True)

    word_gap_s: float = Field(
        default=0.3,
        ge=0,
        le=2,
        description="A pause between two words of one speaker shorter than this counts as talking: their "
        "talk time is the union of their words' spans with such gaps closed.",
    )
    interruption_after_s: float = Field(
        default=0.5,
        gt=0,
        le=10,
        description="A speaker interrupts when they start talking while the other has been talking for at "
        "least this long without a pause.",
    )
    non_talk_min_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="A stretch with nobody talking (hold, a search, dead air) counts as non-talk time from "
        "this length on; it also ends a speaker's monologue.",
    )
