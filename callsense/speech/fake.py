"""A scripted transcriber for tests of the stages around it: no model, the same answer for every call."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from callsense.calls.schemas import Segment
from callsense.config.models import Channel
from callsense.speech.audio import DecodedAudio
from callsense.speech.whisper import ProgressCallback, Task, Transcript, TranscriptionOptions

OPTIONS = TranscriptionOptions(
    model="fake",
    device="cpu",
    compute_type="none",
    beam_size=1,
    temperatures=(0.0,),
    vad=False,
    agent_channel="left",
    batched=False,
)


class FakeTranscriber:
    """Answers ``segments`` in ``language`` (``translation`` for the translate task, when given); records
    each request as (language asked for, task)."""

    def __init__(
        self,
        segments: Sequence[Segment],
        *,
        language: str | None = "en",
        translation: Sequence[Segment] = (),
    ) -> None:
        self._segments = list(segments)
        self._translation = list(translation)
        self._language = language if segments else None
        self.requests: list[tuple[str | None, Task]] = []

    def transcribe(
        self,
        audio: DecodedAudio,
        *,
        language: str | None = None,
        agent_channel: Channel | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        if on_progress is not None:
            on_progress(1.0)
        return self._answer(language, "transcribe", agent_channel)

    def translate(
        self, audio: DecodedAudio, *, language: str, agent_channel: Channel | None = None
    ) -> Transcript:
        return self._answer(language, "translate", agent_channel)

    def _answer(self, language: str | None, task: Task, agent_channel: Channel | None) -> Transcript:
        self.requests.append((language, task))
        return Transcript(
            segments=list(self._translation if task == "translate" else self._segments),
            language=language or self._language,
            language_probability=None if language else 1.0,
            # the options say which channel was taken for the agent, as Whisper's do
            options=dataclasses.replace(OPTIONS, agent_channel=(agent_channel or Channel.left).value),
        )
