"""Everything the call page shows, read and decrypted in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from callsense.calls import access, deliveries, retention
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import (
    QUARTERS,
    CallRecord,
    CallStatus,
    RoleSource,
    Segment,
    Sentiment,
    Speaker,
    SpeakerMethod,
    SpeakersFound,
    TalkFigures,
)
from callsense.crypto import KeyRing

# The sentiment trend chart's levels, from the bottom of its y axis up: a quarter's sentiment is its index.
TREND_LEVELS = (Sentiment.negative, Sentiment.neutral, Sentiment.positive)
PROCESSING = {CallStatus.received, CallStatus.fetched, CallStatus.transcribed}
ACCESS_KINDS = {"transcript_viewed", "audio_streamed", "asked", "sensitive_viewed", "sensitive_played"}


@dataclass(frozen=True)
class Turn:
    index: int
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class StripBand:
    """One turn on the sentiment strip: where it lies in the call (percent) and its speaker's sentiment."""

    left: float
    width: float
    speaker: str
    sentiment: str


@dataclass(frozen=True)
class StripMark:
    """A non-talk span or an interruption on the strip: where it lies in the call (percent) and what it is."""

    left: float
    width: float
    kind: str  # "non-talk" or "interruption"
    label: str


@dataclass(frozen=True)
class StageRun:
    stage: str
    kind: str
    seconds: float | None
    detail: str | None
    actor: str | None
    at_label: str


@dataclass
class CallView:
    record: CallRecord
    agent: str | None
    has_audio: bool
    awaiting_redaction: bool  # the recording is stored but may not play before it is redacted
    transcript_shown: bool
    original_shown: bool = False  # the text as said, not the redacted view (the permission, audited)
    turns: list[Turn] = field(default_factory=list)
    strip: list[StripBand] = field(default_factory=list)
    marks: list[StripMark] = field(default_factory=list)
    timeline: list[StageRun] = field(default_factory=list)
    access: list[StageRun] = field(default_factory=list)  # who read the transcript or played the audio
    deliveries: list[deliveries.DeliveryView] = field(default_factory=list)
    hold: retention.Hold | None = None
    audio_purged_at: datetime | None = None  # removed under the retention policy
    text_purged_at: datetime | None = None

    @property
    def being_processed(self) -> bool:
        return self.record.status in PROCESSING

    @property
    def no_transcript(self) -> str:
        return missing_transcript(self.record.status, purged=self.text_purged_at is not None)

    @property
    def strip_rows(self) -> str:
        """The strip legend's words for its rows, after the speakers its turns have."""
        speakers = {band.speaker for band in self.strip}
        if Speaker.unknown.value not in speakers:
            return "upper row agent, lower row customer"
        if speakers == {Speaker.unknown.value}:
            return "one row: speakers not told apart"
        return "upper row agent, lower row customer, middle row speaker unknown"

    @property
    def strip_words(self) -> str:
        """The strip for those who cannot see it: each speaker's colour, then the stretches nobody talked and
        the interruptions. The turns themselves are the transcript's, which follows it."""
        colours = dict.fromkeys(f"{band.speaker} {band.sentiment.lower()}" for band in self.strip)
        return "; ".join([", ".join(colours), *(mark.label for mark in self.marks)]) + "."

    @property
    def trend_series(self) -> list[tuple[str, list[Sentiment | None]]]:
        """The speakers rated per quarter of the call, each with its four values (None: silent then)."""
        trend = self.record.sentiment_trend
        return [
            (name, values)
            for name, values in (("Agent", trend.agent), ("Customer", trend.customer))
            if values
        ]

    @property
    def trend_chart(self) -> dict[str, object]:
        """What call.js draws the sentiment trend from: the quarters, the levels of the y axis (bottom up) and
        each speaker's level per quarter, null where that speaker was silent (a gap in the line)."""
        return {
            "quarters": [f"Q{quarter}" for quarter in range(1, QUARTERS + 1)],
            "levels": [level.value for level in TREND_LEVELS],
            "series": [
                {"name": name, "values": [None if v is None else TREND_LEVELS.index(v) for v in values]}
                for name, values in self.trend_series
            ],
        }

    @property
    def trend_words(self) -> str:
        """The trend chart for those who cannot see it: each speaker's sentiment in each quarter, in order."""
        return "; ".join(
            f"{name}: " + ", ".join(v.value if v else "silent" for v in values)
            for name, values in self.trend_series
        )


def missing_transcript(status: CallStatus, *, purged: bool) -> str:
    """Why a call has no transcript, as true for its status: "yet" only while the call is being processed."""
    if purged:
        return "The transcript was removed under the retention policy."
    if status is CallStatus.no_speech:
        return "No speech was recognised."
    if status is CallStatus.failed:
        return "No transcript: processing failed."
    return "No transcript yet." if status in PROCESSING else "No transcript."


def missing_transcript_of(call: Call) -> str:
    return missing_transcript(CallStatus(call.status), purged=call.text_purged_at is not None)


def speakers_told(found: SpeakersFound) -> str:
    """How the call's speakers were told apart and the agent chosen, in words: what a reader needs to trust
    the Agent and Customer labels, or to see that the recording's channels look the wrong way round."""
    if found.method is SpeakerMethod.none:
        return "not told apart: mono, and speakers.diarization is off"
    if found.method is SpeakerMethod.channels:
        chosen_by = {
            RoleSource.metadata: "as the call's metadata says",
            RoleSource.conversation: f"swapped from asr.agent_channel by the words (confidence "
            f"{found.role_confidence:.2f})",
        }.get(found.agent_source or RoleSource.settings, "as asr.agent_channel says")
        told = f"by channel; agent on the {found.agent}, {chosen_by}"
        if found.swap_suggested:
            other = "right" if found.agent == "left" else "left"
            told += f"; but the words say the {other} (confidence {found.role_confidence:.2f})"
        return told
    if not found.count:  # words Whisper heard where the voice finder found no speech to embed
        return "no voice told apart: too little speech to tell voices by"
    plural = "" if found.count == 1 else "s"
    voices = f"{found.count} voice{plural} told apart (clarity {found.confidence or 0:.2f})"
    if found.count == 1 and not found.confidence:  # a call of a few seconds: nothing to compare
        voices = "one voice assumed: too little speech to tell voices apart"
    if found.agent_source is RoleSource.metadata:
        told = f"{voices}; agent {found.agent or 'none'}, as the call's metadata says (agent_speaks)"
        if found.swap_suggested:
            told += f"; but the words say another voice (confidence {found.role_confidence:.2f})"
        return told
    if found.agent is None:
        return f"{voices}; no agent: a customer alone speaks"
    if not found.role_confidence:
        return f"{voices}; agent {found.agent}, the first voice to speak: no words tell"
    return f"{voices}; agent {found.agent} by the words (confidence {found.role_confidence:.2f})"


def utc(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time as UTC, the zone the pages name and the date filters use. PostgreSQL answers in its
    TimeZone setting (an external server's, or the embedded one's from the host), not necessarily UTC."""
    return moment.astimezone(UTC).strftime(pattern)


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on (a long call's 125:03 reads as 2:05:03)."""
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def _strip(segments: list[Segment], record: CallRecord, duration: float) -> list[StripBand]:
    """Turns coloured by their speaker's sentiment. The analysis rates each speaker over the whole call,
    not each turn, so the strip shows how the call's time splits between a satisfied or unhappy customer
    and the agent; it does not claim a per-turn sentiment the model never produced."""
    by_speaker = {
        Speaker.agent: record.speaker_sentiment.agent,
        Speaker.customer: record.speaker_sentiment.customer,
    }
    bands = []
    for segment in segments:
        sentiment = by_speaker.get(segment.speaker) or record.sentiment
        bands.append(
            StripBand(
                left=round(100 * segment.start / duration, 2),
                width=max(round(100 * (segment.end - segment.start) / duration, 2), 0.4),
                speaker=segment.speaker.value,
                sentiment=sentiment.value if sentiment else "Unknown",
            )
        )
    return bands


def strip_marks(talk: TalkFigures, duration: float) -> list[StripMark]:
    """Non-talk spans as shaded stretches, interruptions as ticks where the interrupting speaker began."""
    marks = [
        StripMark(
            left=round(100 * span.start / duration, 2),
            width=round(100 * (span.end - span.start) / duration, 2),
            kind="non-talk",
            label=f"nobody talking {clock(span.start)} to {clock(span.end)}",
        )
        for span in talk.non_talk_spans
    ]
    for speaker, side in ((Speaker.agent, talk.agent), (Speaker.customer, talk.customer)):
        marks.extend(
            StripMark(
                left=round(100 * start / duration, 2),
                width=0.4,
                kind="interruption",
                label=f"{speaker.value} interrupted at {clock(start)}",
            )
            for start in (side.interruption_times if side else [])
        )
    return marks


def load(
    *,
    session: Session,
    keyring: KeyRing,
    call_id: str,
    transcript_allowed: bool,
    actor: str,
    original: bool = False,
    redacting: bool = True,
) -> CallView:
    """The call's view; transcripts are decrypted (and the reading audited) only when allowed, the
    original instead of the redacted view only with ``original`` (the permission checked by the caller);
    ``redacting``: redaction is on, so a recording not yet redacted is not offered to play."""
    call = calls.get(session=session, call_id=call_id)
    record = access.read_record(
        session=session,
        keyring=keyring,
        call=call,
        transcript_allowed=transcript_allowed,
        actor=actor,
        via="web",
        original=original,
    )
    has_audio = access.recording_key(call, original=original, redacting=redacting) is not None
    view = CallView(
        record=record,
        agent=call.agent,
        has_audio=has_audio,
        awaiting_redaction=not has_audio and call.audio_blob is not None,
        transcript_shown=transcript_allowed,
        original_shown=original and transcript_allowed,
        deliveries=deliveries.of_call(session=session, call_pk=call.id),
        hold=retention.hold_of(call),
        audio_purged_at=call.audio_purged_at,
        text_purged_at=call.text_purged_at,
    )
    if transcript_allowed:
        view.turns = [
            Turn(index=i, speaker=s.speaker.value, start=s.start, end=s.end, text=s.text)
            for i, s in enumerate(record.segments)
        ]
        duration = call.duration_s or max((s.end for s in record.segments), default=0.0)
        if duration > 0:
            view.strip = _strip(record.segments, record, duration)
            view.marks = strip_marks(record.talk, duration) if record.talk else []
    for e in calls.events(session=session, call_pk=call.id):
        run = StageRun(
            stage=e.stage,
            kind=e.kind,
            seconds=e.seconds,
            detail=e.detail,
            actor=e.actor,
            at_label=utc(e.at, "%Y-%m-%d %H:%M:%S UTC"),
        )
        (view.access if e.kind in ACCESS_KINDS else view.timeline).append(run)
    return view
