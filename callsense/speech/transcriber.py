"""The transcriber port: a decoded call in, its turns by speaker out (``whisper.WhisperTranscriber``, or the
scripted ``fake.FakeTranscriber`` in tests that do not test Whisper)."""

from __future__ import annotations

from typing import Protocol

from callsense.config.models import Channel, SourceVocabulary
from callsense.speech.audio import DecodedAudio
from callsense.speech.speakers import SpeakerMap
from callsense.speech.whisper import ProgressCallback, Transcript


class Transcriber(Protocol):
    def transcribe(
        self,
        audio: DecodedAudio,
        *,
        language: str | None = None,
        agent_channel: Channel | None = None,
        vocabulary: SourceVocabulary | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """The turns of ``audio`` by speaker (none when no speech), in its language; ``language`` None
        detects it; ``agent_channel`` (from the call's metadata) overrides the configured one;
        ``vocabulary`` (the call's recording source's hotwords) adds to or replaces asr's hotwords."""
        ...

    def translate(
        self, audio: DecodedAudio, *, language: str, speakers: SpeakerMap | None = None
    ) -> Transcript:
        """The turns of ``audio``, spoken in ``language``, in English; ``speakers`` is the transcription's
        decision of who spoke when, reused."""
        ...
