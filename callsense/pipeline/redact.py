"""The redaction step of the transcribe and analyse stages: personal data out of what a call stores.

``transcript`` runs in the transcribe stage, while the audio is at hand: the turns and Whisper's translation
through ``rt.redactor``, and the recording masked (a tone or silence, on the speaker's channel) over every
redacted span. ``analysis`` runs in the analyse stage on the LLM's output (the LLM itself reads the
original: it runs on-premises). Both are pure: the stages store what they return in the transaction that
marks them done, so a retried stage redacts again from scratch and the step needs no state of its own.
Nothing here logs, not even the entity types found: the audit trail and the record carry the counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callsense.calls.schemas import (
    AnalysisResult,
    RedactionSummary,
    Segment,
    Speaker,
    SpeakerMethod,
    SpeakersFound,
)
from callsense.config.models import Channel
from callsense.redaction import RedactedSpan
from callsense.redaction.said import SaidValue, redact_said, said_values, span_values
from callsense.speech import masking
from callsense.speech.audio import DecodedAudio

if TYPE_CHECKING:
    from callsense.runtime import Runtime

# The language of the analysis's output and of every translation (the prompts ask for English).
OUTPUT_LANGUAGE = "en"


@dataclass(frozen=True)
class RedactedTranscript:
    """What the transcribe stage stores: the shown (redacted) turns and translation, the originals (None
    with redaction off), the summary for the record, and the redacted recording as FLAC."""

    segments: list[Segment]
    translated: str | None
    original_segments: list[Segment] | None = None
    original_translation: str | None = None
    summary: RedactionSummary | None = None
    audio: bytes | None = None


def transcript(
    rt: Runtime,
    segments: list[Segment],
    translated: str | None,
    *,
    language: str | None,
    audio: DecodedAudio,
    speakers: SpeakersFound | None,
) -> RedactedTranscript:
    """The turns, the translation and the recording redacted; unchanged (no originals) when redaction is
    off."""
    if not rt.settings.redaction.enabled:
        return RedactedTranscript(segments=segments, translated=translated)
    redaction = rt.redactor.redact_segments(segments, language=language)
    said = span_values(segments, redaction.spans, language=language)
    shown_translation = free_text(rt, translated, said) if translated is not None else None
    settings = rt.settings.redaction
    masks = audio_masks(
        redaction.spans,
        margin_s=settings.audio_margin_s,
        channels=audio.channels.shape[0],
        speakers=speakers,
    )
    recording = masking.masked(audio, masks, with_tone=settings.audio == "tone")
    return RedactedTranscript(
        segments=redaction.segments,
        translated=shown_translation,
        original_segments=segments,
        original_translation=translated,
        summary=RedactionSummary(
            checked=list(redaction.checked),
            found=dict(sorted(Counter(span.entity for span in redaction.spans).items())),
            audio=True,
        ),
        audio=masking.encode_flac(recording),
    )


def free_text(rt: Runtime, text: str, said: list[SaidValue]) -> str:
    """Text written about the call (a translation, the analysis) redacted: what the redactor finds in it,
    then every value the turns' redaction took out, wherever it recurs (``redaction/said.py``). In that
    order: the NER model takes a placeholder already there ("on [PHONE_NUMBER]") for a person."""
    return redact_said(rt.redactor.redact_text(text, language=OUTPUT_LANGUAGE), said)


def analysis(
    rt: Runtime,
    result: AnalysisResult,
    *,
    original: list[Segment],
    redacted: list[Segment],
    language: str | None,
) -> AnalysisResult | None:
    """The analysis as stored and shown, its free text redacted; None when redaction is off (store the
    LLM's output as it is). ``original`` and ``redacted`` are the call's turns as said and as stored.
    The taxonomy label, sentiments and flags are not free text and stay."""
    if not rt.settings.redaction.enabled:
        return None
    values = said_values(original, redacted, language=language)

    def clean(text: str) -> str:
        return free_text(rt, text, values)

    return result.model_copy(
        update={
            "summary": [clean(line) for line in result.summary],
            "topic_detail": clean(result.topic_detail) if result.topic_detail else result.topic_detail,
            "issues": [clean(issue) for issue in result.issues],
            "action_items": [
                item.model_copy(update={"text": clean(item.text)}) for item in result.action_items
            ],
            "translated_transcript": (
                clean(result.translated_transcript)
                if result.translated_transcript
                else result.translated_transcript
            ),
        }
    )


def speaker_rows(speaker: Speaker, *, channels: int, speakers: SpeakersFound | None) -> tuple[int, ...]:
    """The channel rows that carry ``speaker``'s voice: on a stereo call split by channel, the speaker's
    own; anywhere else (mono, diarized, a speaker not known) every channel."""
    every = tuple(range(channels))
    by_channel = speakers is not None and speakers.method is SpeakerMethod.channels
    if channels < 2 or not by_channel or speakers is None or speakers.agent not in {"left", "right"}:
        return every
    agent_row = Channel(str(speakers.agent)).row
    if speaker is Speaker.agent:
        return (agent_row,)
    if speaker is Speaker.customer:
        return (1 - agent_row,)
    return every


def audio_masks(
    spans: list[RedactedSpan], *, margin_s: float, channels: int, speakers: SpeakersFound | None
) -> list[masking.Mask]:
    """Each span widened by ``margin_s`` on both sides (Whisper's word times are off by tens of ms), on
    the channels of its speaker."""
    return [
        masking.Mask(
            start=max(0.0, span.start - margin_s),
            end=span.end + margin_s,
            rows=speaker_rows(span.speaker, channels=channels, speakers=speakers),
        )
        for span in spans
    ]
