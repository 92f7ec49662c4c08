"""A scripted transcriber for tests of the stages around it: no model, the same answer for every call."""

from __future__ import annotations

from collections.abc import Sequence

from callsense.calls.schemas import RoleSource, Segment, SpeakerMethod, SpeakersFound
from callsense.config.models import AgentSpeaks, Channel, SourceVocabulary
from callsense.speech.audio import DecodedAudio
from callsense.speech.speakers import SpeakerMap
from callsense.speech.transcriber import ProgressCallback, Task, Transcript, TranscriptionOptions

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

SCRIPTED_SPEAKERS = SpeakerMap(
    found=SpeakersFound(method=SpeakerMethod.channels, count=2, agent="left", agent_source="settings")
)


class FakeTranscriber:
    """Answers ``segments`` in ``language`` (``translation`` for the translate task, when given) with
    ``speakers`` as its decision on who spoke (the agent on the channel asked for, or the voice, its voices
    taken to be heard in the order they speak, as Whisper's would say); records each request as (language
    asked for, task)."""

    def __init__(
        self,
        segments: Sequence[Segment],
        *,
        language: str | None = "en",
        translation: Sequence[Segment] = (),
        speakers: SpeakersFound = SCRIPTED_SPEAKERS.found,
    ) -> None:
        self._segments = list(segments)
        self._translation = list(translation)
        self._speakers = SpeakerMap(found=speakers)
        self._language = language if segments else None
        self.requests: list[tuple[str | None, Task]] = []
        self.agent_channels: list[Channel | None] = []  # the metadata override of each transcribe
        self.agent_speaks: list[AgentSpeaks | None] = []  # the mono one of each transcribe
        self.vocabularies: list[SourceVocabulary | None] = []  # the source's hotwords of each transcribe

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
        if on_progress is not None:
            on_progress(1.0)
        self.agent_channels.append(agent_channel)
        self.agent_speaks.append(agent_speaks)
        self.vocabularies.append(vocabulary)
        speakers = self._speakers
        update: dict[str, str] = {}
        if agent_channel is not None and speakers.found.method is SpeakerMethod.channels:  # as Whisper's
            update = {"agent": agent_channel.value, "agent_source": RoleSource.metadata}
        if agent_speaks is not None and speakers.found.method is SpeakerMethod.diarization:
            update = {"agent": f"speaker {agent_speaks.rank + 1}", "agent_source": RoleSource.metadata}
        if update:
            speakers = SpeakerMap(found=speakers.found.model_copy(update=update))
        return self._answer(language, "transcribe", speakers)

    def translate(
        self, audio: DecodedAudio, *, language: str, speakers: SpeakerMap | None = None
    ) -> Transcript:
        return self._answer(language, "translate", speakers or self._speakers)

    def _answer(self, language: str | None, task: Task, speakers: SpeakerMap) -> Transcript:
        self.requests.append((language, task))
        return Transcript(
            segments=list(self._translation if task == "translate" else self._segments),
            language=language or self._language,
            language_probability=None if language else 1.0,
            options=OPTIONS,
            speakers=speakers if self._segments else None,
        )
