"""The analysed call record: the one definition of what callsense produces.

``CallRecord`` is what ``callsense process`` prints, what ``callsense show`` reads back and what the API will
serve; its JSON Schema is exported to ``docs/call-record.schema.json``. ``AnalysisResult`` is the LLM stage's
validated output, stored beside the transcript.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Speaker(StrEnum):
    agent = "agent"
    customer = "customer"
    unknown = "unknown"


class Sentiment(StrEnum):
    positive = "Positive"
    neutral = "Neutral"
    negative = "Negative"


class Emotion(StrEnum):
    calm = "Calm"
    satisfied = "Satisfied"
    grateful = "Grateful"
    happy = "Happy"
    neutral = "Neutral"
    confused = "Confused"
    anxious = "Anxious"
    impatient = "Impatient"
    disappointed = "Disappointed"
    frustrated = "Frustrated"
    angry = "Angry"


class CallStatus(StrEnum):
    received = "received"
    fetched = "fetched"
    transcribed = "transcribed"
    done = "done"
    no_speech = "no_speech"
    failed = "failed"


class Segment(BaseModel):
    """One turn: consecutive words of one speaker."""

    model_config = ConfigDict(frozen=True)

    speaker: Speaker
    start: float = Field(ge=0, description="seconds from the start of the recording")
    end: float = Field(ge=0)
    text: str
    confidence: float = Field(ge=0, le=1, description="mean word probability")


class SpeakerSentiment(BaseModel):
    agent: Sentiment | None = None
    customer: Sentiment | None = None


QUARTERS = 4
ISSUES_MAX = 3
ACTION_ITEMS_MAX = 5


class SentimentTrend(BaseModel):
    """Each speaker's sentiment in each quarter of the call (by time): empty when not analysed, else one
    value per quarter, null for a quarter in which that speaker said nothing."""

    agent: list[Sentiment | None] = Field(default_factory=list, max_length=QUARTERS)
    customer: list[Sentiment | None] = Field(default_factory=list, max_length=QUARTERS)


class Owner(StrEnum):
    agent = "agent"
    customer = "customer"


class ActionItem(BaseModel):
    """Something one side of the call said would be done after it."""

    owner: Owner
    text: str


class Outcome(BaseModel):
    """How the call ended; null where the call does not say."""

    resolved: bool | None = Field(default=None, description="the customer's need was met on the call")
    callback_needed: bool | None = Field(default=None, description="someone must call or write back")
    escalated: bool | None = Field(
        default=None, description="passed to a supervisor, another team or a complaint process"
    )


class FieldFailure(BaseModel):
    """An analysis field the LLM could not produce validly; the field is left empty, never invented."""

    field: str
    reason: str


class AnalysisResult(BaseModel):
    """What the analyse stage produces from a transcript."""

    summary: list[str] = Field(default_factory=list)
    topic: str | None = None
    topic_detail: str | None = None
    sentiment: Sentiment | None = None
    emotion: Emotion | None = None
    speaker_sentiment: SpeakerSentiment = Field(default_factory=SpeakerSentiment)
    sentiment_trend: SentimentTrend = Field(default_factory=SentimentTrend)
    issues: list[str] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=Outcome)
    translated_transcript: str | None = None
    failures: list[FieldFailure] = Field(default_factory=list)


class ModelsUsed(BaseModel):
    asr: str | None = None
    llm_backend: str | None = None
    llm_model: str | None = None
    translation: str | None = Field(default=None, description="'whisper' or 'llm' for non-English calls")


class StageTimings(BaseModel):
    """Seconds spent in each stage of the last run that produced this record."""

    fetch: float | None = None
    transcribe: float | None = None
    analyse: float | None = None


class CallRecord(BaseModel):
    """The analysed call. Field names follow the CRM payload of the product brief."""

    call_id: str
    status: CallStatus
    status_detail: str | None = Field(default=None, description="why the call failed or has no analysis")
    language: str | None = None
    language_probability: float | None = None
    transcript: str = ""
    translated_transcript: str | None = None
    summary: list[str] = Field(default_factory=list)
    topic: str | None = Field(
        default=None, description="the call driver: one label of the taxonomy (analysis.topics)"
    )
    topic_detail: str | None = Field(default=None, description="the specific reason, in a few words")
    sentiment: Sentiment | None = None
    emotion: Emotion | None = None
    speaker_sentiment: SpeakerSentiment = Field(default_factory=SpeakerSentiment)
    sentiment_trend: SentimentTrend = Field(default_factory=SentimentTrend)
    issues: list[str] = Field(
        default_factory=list, max_length=ISSUES_MAX, description="what the customer needed, in short"
    )
    action_items: list[ActionItem] = Field(default_factory=list, max_length=ACTION_ITEMS_MAX)
    outcome: Outcome = Field(default_factory=Outcome)
    duration: float | None = Field(default=None, description="seconds of audio")
    channels: int | None = None
    timestamp: datetime = Field(description="when the call took place, or when it was received")
    segments: list[Segment] = Field(default_factory=list)
    analysis_failures: list[FieldFailure] = Field(default_factory=list)
    models: ModelsUsed = Field(default_factory=ModelsUsed)
    timings: StageTimings = Field(default_factory=StageTimings)


def render_transcript(segments: list[Segment]) -> str:
    """The plain-text transcript: one line per turn, prefixed with the speaker when known."""
    lines = []
    for segment in segments:
        prefix = "" if segment.speaker is Speaker.unknown else f"{segment.speaker.value.capitalize()}: "
        lines.append(prefix + segment.text)
    return "\n".join(lines)
