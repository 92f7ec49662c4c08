"""The transcriber port and what it returns: a decoded call in, its turns by speaker out. Implemented by
``whisper.WhisperTranscriber``, and by the scripted ``fake.FakeTranscriber`` in tests not about Whisper."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from callsense.calls.schemas import Segment, render_transcript
from callsense.config.models import AgentSpeaks, Channel, SourceVocabulary
from callsense.speech.audio import DecodedAudio
from callsense.speech.speakers import SpeakerMap

Task = Literal["transcribe", "translate"]
ProgressCallback = Callable[[float], None]


@dataclass
class Progress:
    """Reports seconds of audio done across all channels as a fraction of the whole; the channels of a
    stereo call advance it from two threads."""

    total: float
    callback: ProgressCallback | None
    done: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, seconds: float) -> None:
        with self._lock:  # held while reporting too, so the fractions reported never go back
            self.done += seconds
            if self.callback is not None and self.total > 0:
                # Rounded: the channels' seconds add up to the whole only to within a float's error (0.9999…).
                self.callback(min(round(self.done / self.total, 6), 1.0))


@dataclass(frozen=True)
class TranscriptionOptions:
    """The settings that produced a transcript; stored beside it."""

    model: str
    device: str
    compute_type: str
    beam_size: int
    temperatures: tuple[float, ...]
    vad: bool
    agent_channel: str
    batched: bool
    language: str | None = None
    hotwords: str | None = None
    number_beam_size: int = 1


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    language: str | None
    language_probability: float | None
    options: TranscriptionOptions
    speakers: SpeakerMap | None = None  # None when there was no speech

    @property
    def text(self) -> str:
        return render_transcript(self.segments)


class Transcriber(Protocol):
    def transcribe(
        self,
        audio: DecodedAudio,
        *,
        language: str | None = None,
        agent_channel: Channel | None = None,
        agent_speaks: AgentSpeaks | None = None,
        vocabulary: SourceVocabulary | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """The turns of ``audio`` by speaker (none when no speech), in its language; ``language`` None
        detects it; ``agent_channel`` (from the call's metadata) overrides the configured one on stereo,
        ``agent_speaks`` (first or second voice to say a word) the conversation's choice on mono;
        ``vocabulary`` (the call's recording source's hotwords) adds to or replaces asr's hotwords."""
        ...

    def translate(
        self, audio: DecodedAudio, *, language: str, speakers: SpeakerMap | None = None
    ) -> Transcript:
        """The turns of ``audio``, spoken in ``language``, in English; ``speakers`` is the transcription's
        decision of who spoke when, reused."""
        ...
