"""The analysed call record: the one definition of what callsense produces.

``CallRecord`` is what ``callsense process`` prints, what ``callsense show`` reads back and what the API will
serve; its JSON Schema is exported to ``docs/call-record.schema.json``. ``AnalysisResult`` is the LLM stage's
validated output, stored beside the transcript.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from callsense.calls.recognised_text import RecognisedText
from callsense.config.talk import TalkSettings


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


class Word(BaseModel):
    """A recognised word with Whisper's timing and probability: what talk figures and redaction read."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0, description="seconds from the start of the recording")
    end: float = Field(ge=0, description="seconds from the start of the recording")
    text: RecognisedText = Field(description="as Whisper wrote it, with its leading space")
    probability: float = Field(ge=0, le=1, description="Whisper's probability of the word")


class Segment(BaseModel):
    """One turn: consecutive words of one speaker."""

    model_config = ConfigDict(frozen=True)

    speaker: Speaker = Field(description="'unknown' while a mono call's speakers are not told apart")
    start: float = Field(ge=0, description="seconds from the start of the recording")
    end: float = Field(ge=0, description="seconds from the start of the recording")
    text: RecognisedText = Field(description="the turn's words")
    confidence: float = Field(ge=0, le=1, description="mean word probability")
    words: list[Word] = Field(
        default_factory=list, description="the turn's words with their timings (empty for older transcripts)"
    )


class SpeakerMethod(StrEnum):
    channels = "channels"
    diarization = "diarization"
    none = "none"


class RoleSource(StrEnum):
    settings = "settings"
    conversation = "conversation"
    metadata = "metadata"


class SpeakersFound(BaseModel):
    """How the speakers of the call were told apart, and how the agent among them was chosen."""

    model_config = ConfigDict(frozen=True)

    method: SpeakerMethod = Field(
        description="'channels' (one speaker per stereo channel), 'diarization' (voices clustered on a mono "
        "call) or 'none' (mono with diarization off: every turn is 'unknown')"
    )
    count: int = Field(ge=0, description="speakers found")
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="diarization: how clearly the voices separate (None for channels)",
    )
    agent: str | None = Field(
        default=None,
        description="the agent's channel ('left', 'right') or diarized speakers ('speaker 1'; "
        "'speaker 1, speaker 3' when a second agent took the call over)",
    )
    agent_source: RoleSource | None = Field(
        default=None,
        description="what chose the agent: the settings, the conversation, or metadata given with the call "
        "(its webhook's, sidecar's or REST listing item's, or its recording source's agent_channel or "
        "agent_speaks)",
    )
    role_confidence: float = Field(
        default=0, ge=0, le=1, description="how clearly the conversation shows who the agent is"
    )
    swapped: bool = Field(default=False, description="stereo: the agent channel was swapped from the setting")
    swap_suggested: bool = Field(
        default=False,
        description="the conversation says another speaker is the agent: stereo, the channels are swapped "
        "(swap_check warn, or metadata chose the agent's channel); mono, metadata's agent_speaks chose "
        "another voice (metadata always wins)",
    )


class SpeakerSentiment(BaseModel):
    agent: Sentiment | None = Field(
        default=None, description="null when the agent said nothing (or speakers are unknown) or not analysed"
    )
    customer: Sentiment | None = Field(
        default=None,
        description="null when the customer said nothing (or speakers are unknown) or not analysed",
    )


QUARTERS = 4
ISSUES_MAX = 3
ACTION_ITEMS_MAX = 5


class SentimentTrend(BaseModel):
    """Each speaker's sentiment in each quarter of the call (by time): empty when not analysed, else one
    value per quarter, null for a quarter in which that speaker said nothing."""

    agent: list[Sentiment | None] = Field(
        default_factory=list,
        max_length=QUARTERS,
        description="quarters 1 to 4; null where the agent said nothing; empty while speakers are unknown",
    )
    customer: list[Sentiment | None] = Field(
        default_factory=list,
        max_length=QUARTERS,
        description="quarters 1 to 4; null where the customer said nothing; empty while speakers are unknown",
    )


class Owner(StrEnum):
    agent = "agent"
    customer = "customer"


class ActionItem(BaseModel):
    """Something one side of the call said would be done after it."""

    owner: Owner = Field(description="the side that promised the step")
    text: str = Field(description="the step, in a few words")


class Outcome(BaseModel):
    """How the call ended; null where the call does not say."""

    resolved: bool | None = Field(default=None, description="the customer's need was met on the call")
    callback_needed: bool | None = Field(default=None, description="someone must call or write back")
    escalated: bool | None = Field(
        default=None, description="passed to a supervisor, another team or a complaint process"
    )


class FieldFailure(BaseModel):
    """An analysis field the LLM could not produce validly; the field is left empty, never invented."""

    field: str = Field(description="the field left empty, e.g. 'sentiment_trend.agent'")
    reason: str = Field(description="what was wrong with the model's answers")


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
    asr: str | None = Field(default=None, description="the Whisper model that transcribed the call")
    llm_backend: str | None = Field(default=None, description="embedded, ollama or openai")
    llm_model: str | None = Field(default=None, description="the LLM that analysed the call")
    translation: str | None = Field(default=None, description="'whisper' or 'llm' for non-English calls")


class StageTimings(BaseModel):
    """Seconds spent in each stage of the last run that produced this record."""

    fetch: float | None = Field(default=None, description="seconds downloading the recording")
    transcribe: float | None = Field(default=None, description="seconds transcribing and measuring talk")
    analyse: float | None = Field(default=None, description="seconds of the LLM analysis")


class TimeSpan(BaseModel):
    start: float = Field(ge=0, description="seconds from the start of the recording")
    end: float = Field(ge=0, description="seconds from the start of the recording")


class Loudness(BaseModel):
    """RMS levels of one speaker's talk on their channel, in dB relative to full scale (a full-scale sine
    reads -3.0); digital silence reads -120."""

    mean: float = Field(description="the RMS of every sample of the speaker's talk spans")
    peak: float = Field(description="the RMS of the loudest 400 ms window of those spans")


class SpeakerTalk(BaseModel):
    """How one speaker used the call's time; docs/analytics.md defines each figure."""

    talk_seconds: float = Field(
        ge=0, description="the union of the speaker's word spans, short pauses closed"
    )
    share: float = Field(ge=0, le=1, description="talk_seconds over both speakers' talk seconds")
    words_per_minute: float | None = Field(
        default=None,
        description="words over talk time; null without talk, and for speech in Chinese, Japanese, Thai "
        "(scripts without spaces: characters_per_minute)",
    )
    characters_per_minute: float | None = Field(
        default=None,
        description="for speech in scripts written without spaces, its characters over talk time; else null",
    )
    interruptions: int = Field(ge=0, description="times the speaker started talking over the other")
    interruption_times: list[float] = Field(default_factory=list, description="when each interruption began")
    longest_monologue_seconds: float = Field(ge=0, description="the longest turn of this speaker")
    loudness_dbfs: Loudness | None = Field(default=None, description="null without talk")


class TalkFigures(BaseModel):
    """Talk time, interruptions and non-talk time, measured from the word timings and the audio (no model).
    Per-speaker figures and those that need speakers (overlap, turns) are null while the words' speakers are
    unknown (a mono call before diarization)."""

    agent: SpeakerTalk | None = Field(default=None, description="null while the speakers are unknown")
    customer: SpeakerTalk | None = Field(default=None, description="null while the speakers are unknown")
    non_talk_seconds: float = Field(ge=0, description="time in non_talk_spans")
    non_talk_spans: list[TimeSpan] = Field(
        default_factory=list, description="stretches with no word of anyone, at least non_talk_min_s long"
    )
    overlap_seconds: float | None = Field(default=None, description="time both speakers talk at once")
    turns: int | None = Field(default=None, description="changes of speaker plus one; pauses split turns too")
    thresholds: TalkSettings = Field(description="the settings these figures were measured with")

    @property
    def interruptions(self) -> int | None:
        """Both speakers' interruptions; null while the speakers are unknown."""
        if self.agent is None or self.customer is None:
            return None
        return self.agent.interruptions + self.customer.interruptions

    def one_line(self) -> str:
        """For a CRM body: ``Agent 62% of the talk, 2 interruptions; Customer 38% of the talk,
        0 interruptions; non-talk 35 s``."""
        sides = [
            f"{name} {side.share:.0%} of the talk, {side.interruptions} interruptions"
            for name, side in (("Agent", self.agent), ("Customer", self.customer))
            if side is not None
        ]
        return "; ".join([*sides, f"non-talk {self.non_talk_seconds:.0f} s"])


class RedactionSummary(BaseModel):
    """What redaction did to this call: never the values, only their types and counts."""

    checked: list[str] = Field(
        default_factory=list, description="the entity types looked for in the call's language"
    )
    found: dict[str, int] = Field(
        default_factory=dict, description="redacted spans of the transcript per entity type"
    )
    audio: bool = Field(default=False, description="a redacted copy of the recording is stored")
    original: bool = Field(
        default=False,
        description="this record shows the original text (read with the 'view sensitive data' permission)",
    )


class CategoryEvidence(BaseModel):
    """Why a call is in a category: a turn that said a phrase of the rule (its index in ``segments``, where
    the phrase began, the turn's words), or a figure of the call that met the rule (``turn`` null)."""

    turn: int | None = Field(default=None, description="index of the turn in segments; null for a figure")
    start: float | None = Field(default=None, ge=0, description="seconds: where the phrase began")
    speaker: Speaker | None = Field(default=None, description="who said the phrase; null for a figure")
    text: str = Field(description="the turn's words, or what the figure was")


class CategoryMatch(BaseModel):
    """A category (``categories`` in the settings or on the dashboard) whose rule holds for the call."""

    name: str = Field(description="the category's name")
    evidence: list[CategoryEvidence] = Field(
        default_factory=list,
        description="at most 20 turns and figures; a viewer's record has the figures only",
    )

    def without_quotes(self) -> CategoryMatch:
        """As a viewer sees it: the figures, not the turns (their words are transcript)."""
        return self.model_copy(update={"evidence": [item for item in self.evidence if item.turn is None]})


class CallRecord(BaseModel):
    """The analysed call. Field names follow the CRM payload of the product brief."""

    call_id: str = Field(description="the id the call was submitted with")
    status: CallStatus = Field(description="where the call is in processing")
    status_detail: str | None = Field(default=None, description="why the call failed or has no analysis")
    language: str | None = Field(default=None, description="Whisper's code of the call's language")
    language_probability: float | None = Field(
        default=None, description="Whisper's confidence in the language; under 0.5 is worth a look"
    )
    transcript: str | None = Field(
        default=None,
        description="one line per turn, 'Agent: ...' when speakers are known (empty when nothing was said or "
        "the text was purged); null in a viewer's record, which holds none of the words said",
    )
    translated_transcript: str | None = Field(
        default=None, description="the English translation of a non-English call"
    )
    summary: list[str] = Field(default_factory=list, description="bullets, in English")
    topic: str | None = Field(
        default=None, description="the call driver: one label of the taxonomy (analysis.topics)"
    )
    topic_detail: str | None = Field(default=None, description="the specific reason, in a few words")
    sentiment: Sentiment | None = Field(default=None, description="the call's overall sentiment")
    emotion: Emotion | None = Field(default=None, description="the call's dominant emotion")
    speaker_sentiment: SpeakerSentiment = Field(
        default_factory=SpeakerSentiment, description="each speaker's sentiment over the call"
    )
    sentiment_trend: SentimentTrend = Field(
        default_factory=SentimentTrend, description="each speaker's sentiment per quarter of the call"
    )
    issues: list[str] = Field(
        default_factory=list, max_length=ISSUES_MAX, description="what the customer needed, in short"
    )
    action_items: list[ActionItem] = Field(
        default_factory=list,
        max_length=ACTION_ITEMS_MAX,
        description="steps a side explicitly promised to take after the call, the agent's first",
    )
    outcome: Outcome = Field(default_factory=Outcome, description="resolved, callback needed, escalated")
    duration: float | None = Field(default=None, description="seconds of audio")
    channels: int | None = Field(default=None, description="1 (mono) or 2 (stereo: a channel per side)")
    timestamp: datetime = Field(description="when the call took place, or when it was received")
    segments: list[Segment] = Field(
        default_factory=list, description="the turns, in order; empty for a viewer's record"
    )
    talk: TalkFigures | None = Field(
        default=None, description="null for calls transcribed without word timings"
    )
    speakers: SpeakersFound | None = Field(default=None, description="how speakers and roles were found")
    analysis_failures: list[FieldFailure] = Field(
        default_factory=list, description="fields the LLM gave no valid value for, left empty"
    )
    redaction: RedactionSummary | None = Field(
        default=None, description="null when the call was processed with redaction off"
    )
    categories: list[CategoryMatch] = Field(
        default_factory=list, description="the categories the call is in, with their evidence"
    )
    models: ModelsUsed = Field(default_factory=ModelsUsed, description="what produced the record")
    timings: StageTimings = Field(default_factory=StageTimings, description="seconds per stage")


def render_transcript(segments: list[Segment]) -> str:
    """The plain-text transcript: one line per turn, prefixed with the speaker when known."""
    lines = []
    for segment in segments:
        prefix = "" if segment.speaker is Speaker.unknown else f"{segment.speaker.value.capitalize()}: "
        lines.append(prefix + segment.text)
    return "\n".join(lines)
