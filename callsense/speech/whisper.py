"""Transcribe a call with faster-whisper: language, speakers by channel or voice, Whisper's habits fenced in.

Stereo calls carry one speaker per channel, so each channel is transcribed alone and the turns are
interleaved by *word* timestamps (segment starts put a long agent segment before the customer's short
interjections). Mono calls are transcribed once and their words given to the voices that diarization
finds; ``speakers.SpeakerMap`` decides who is the agent on both kinds. Whisper's failure modes are fenced
in: Silero VAD skips silence and music (on a copy of a quiet call lifted where it hears speech: ``level``),
no text is carried over between windows (``condition_on_previous_text=False``) so a loop cannot feed
itself, windows that look like loops are rejected by the compression-ratio check and decoded again in short
clips (``passes``), and the temperature fallback list is short because every fallback re-decodes the
window. The compression ratio is measured with read-out numbers collapsed
(``repetitions.loop_compression_ratio``), so a card read digit by digit is not taken for a loop. When
redaction needs the digits (``number_beam_size``), a segment whose first pass holds a read-out number is
decoded again with a wider beam (``passes.numbers_decoded_again``).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from callsense import metrics
from callsense.assets import catalog
from callsense.calls.schemas import Segment, Speaker
from callsense.config.models import (
    AgentSpeaks,
    ASRSettings,
    Channel,
    Device,
    SourceVocabulary,
    SpeakerSettings,
)
from callsense.errors import ModelAssetError
from callsense.speech import diarization, level, passes
from callsense.speech import language as language_id
from callsense.speech import speakers as speakers_module
from callsense.speech.audio import DecodedAudio, FloatArray, channels_are_alike
from callsense.speech.repetitions import cut_repetitions, loop_compression_ratio
from callsense.speech.speakers import GivenAgent, SpeakerMap
from callsense.speech.transcriber import Progress, ProgressCallback, Task, Transcript, TranscriptionOptions
from callsense.speech.turns import SpokenWord, turns_from_words
from callsense.speech.voices import VoiceEncoder

log = structlog.get_logger(__name__)

# A stereo call's only channel with words is both sides mixed when diarization finds two voices at least this
# clearly (its ``confidence``): one voice alone is sometimes split in two as well, but less clearly (0.11-0.35
# on single-voice channels of the fixtures and the AWS calls, against 0.45-0.91 on 10 of 12 two-voice mixes;
# docs/speakers.md).
MIXED_CHANNEL_CONFIDENCE = 0.4


def _resolve_device(device: Device) -> str:
    if device is not Device.auto:
        return device.value
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


@functools.lru_cache(maxsize=1)
def _load_voice_encoder(path: Path) -> VoiceEncoder:
    return VoiceEncoder.load(path)


@functools.lru_cache(maxsize=2)
def _load_model(path: str, device: str, compute_type: str, cpu_threads: int, workers: int) -> Any:
    from faster_whisper import WhisperModel
    from faster_whisper import transcribe as faster_whisper_transcribe

    # faster-whisper's temperature fallback, its batched pipeline and every segment's compression_ratio
    # measure loops with this module-level function; a plain gzip ratio takes "uno uno uno uno, …" for one.
    faster_whisper_transcribe.get_compression_ratio = loop_compression_ratio
    started = time.perf_counter()
    try:
        # A local path only: a bare name would make faster-whisper ask a model hub.
        model = WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=workers,
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelAssetError(f"cannot load the Whisper model at {path}: {exc}") from exc
    metrics.MODEL_LOAD_SECONDS.labels(kind="asr", model=Path(path).name).set(time.perf_counter() - started)
    return model


class WhisperTranscriber:
    """Transcribes calls with the configured Whisper model. Building one is cheap: the weights are assembled,
    checked and loaded on the first use, so a process that never transcribes never pays for them.
    ``number_beam_size`` above the configured beam decodes the segments holding read-out numbers again with
    that beam (the runtime sets it while redaction is on)."""

    def __init__(
        self,
        settings: ASRSettings,
        *,
        model_dir: Path,
        speakers: SpeakerSettings | None = None,
        number_beam_size: int = 1,
    ) -> None:
        self._settings = settings
        self._number_beam_size = number_beam_size
        self._speakers = speakers or SpeakerSettings()
        self._model_dir = model_dir
        self._weights_lock = threading.Lock()
        self._weights: tuple[Path, bool] | None = None
        self._device = _resolve_device(settings.device)
        self._compute_type = settings.compute_type
        if self._compute_type == "default":
            self._compute_type = "float16" if self._device == "cuda" else "int8"

    def _resolved(self) -> tuple[Path, bool]:
        """The model's directory and whether it is English-only, assembled on the first call."""
        with self._weights_lock:
            if self._weights is None:
                self._weights = catalog.resolve_whisper(self._settings.model, self._model_dir)
            return self._weights

    @property
    def english_only(self) -> bool:
        return self._resolved()[1]

    @property
    def model_name(self) -> str:
        if self._settings.model in catalog.CATALOG:
            return f"whisper-{self._settings.model}"
        return str(self._resolved()[0])

    def _model(self) -> Any:
        path, _ = self._resolved()
        workers = 2 if self._settings.parallel_channels else 1
        return _load_model(str(path), self._device, self._compute_type, self._settings.cpu_threads, workers)

    def _voice_encoder(self) -> VoiceEncoder:
        return _load_voice_encoder(catalog.resolve_voice_encoder(self._model_dir))

    def options(
        self, language: str | None, vocabulary: SourceVocabulary | None = None
    ) -> TranscriptionOptions:
        return TranscriptionOptions(
            model=self.model_name,
            device=self._device,
            compute_type=self._compute_type,
            beam_size=self._settings.beam_size,
            temperatures=tuple(self._settings.temperatures),
            vad=self._settings.vad,
            agent_channel=self._settings.agent_channel.value,
            batched=self._settings.batched,
            language=language,
            hotwords=self._settings.hotwords_for(language, vocabulary),
            number_beam_size=self._number_beam_size,
        )

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
        return self._call(
            audio,
            language=language,
            task="transcribe",
            on_progress=on_progress,
            agent=GivenAgent(agent_channel, agent_speaks),
            vocabulary=vocabulary,
        )

    def translate(
        self, audio: DecodedAudio, *, language: str, speakers: SpeakerMap | None = None
    ) -> Transcript:
        return self._call(audio, language=language, task="translate", on_progress=None, speakers=speakers)

    def _call(
        self,
        audio: DecodedAudio,
        *,
        language: str | None,
        task: Task,
        on_progress: ProgressCallback | None,
        agent: GivenAgent = GivenAgent(),
        speakers: SpeakerMap | None = None,
        vocabulary: SourceVocabulary | None = None,
    ) -> Transcript:
        """The call's turns: each channel (or the mono mix) decoded with ``task``, its words given their
        speakers (``speakers``, else decided here) and merged by time."""
        if self.english_only:
            if language not in (None, "en"):
                raise ModelAssetError(
                    f"the English-only model {self.model_name} cannot transcribe '{language}'"
                )
            if task == "translate":
                raise ModelAssetError(f"the English-only model {self.model_name} cannot translate")
        audio = level.audible(audio)  # a quiet recording lifted where the VAD hears it, on a copy
        channels = self._channels(audio)
        progress = Progress(total=audio.duration * len(channels), callback=on_progress)
        probability: float | None
        if language is not None:
            probability = None
        elif self.english_only:
            language, probability = "en", None
        elif len(self._settings.languages) == 1:  # the only language this contact center takes
            language, probability = self._settings.languages[0], None
        else:
            language, probability = language_id.detect(
                self._model(), audio.mix(), vad=self._settings.vad, languages=self._settings.languages
            )
        hotwords = self._settings.hotwords_for(language, vocabulary) if language is not None else None
        if language is None:  # no speech anywhere: nothing to transcribe
            progress.advance(progress.total)
            segments: list[Segment] = []
        elif len(channels) == 1 and not self._speakers.diarization:
            segments = self._mono_segments(channels[0], language, task, progress, hotwords)
            speakers = speakers or speakers_module.MONO_UNDIARIZED
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diarization") as pool:
                # A mono call's voices come from the audio alone: found beside Whisper, which keeps only part
                # of two cores busy, not after it.
                mono = len(channels) == 1 and speakers is None
                voices = pool.submit(self._voices, channels[0]) if mono else None
                heard = self._heard(channels, language, task, progress, hotwords)
                speakers = speakers or self._speaker_map(heard, agent, voices, channels)
            segments = turns_from_words(
                [speakers.labelled(word, channel) for channel, words in enumerate(heard) for word in words]
            )
        return Transcript(
            segments=segments,
            language=language,
            language_probability=probability,
            options=self.options(language, vocabulary),
            speakers=speakers if segments else None,
        )

    def _heard(
        self,
        channels: list[FloatArray],
        language: str,
        task: Task,
        progress: Progress,
        hotwords: str | None,
    ) -> list[list[SpokenWord]]:
        """Each channel's words; a stereo call's two channels at once where the settings allow, since
        greedy decoding and Silero VAD keep only part of two cores busy (docs/benchmarks.md)."""
        given_up = threading.Event()

        def words(samples: FloatArray) -> list[SpokenWord]:
            return self._channel_words(samples, language, task, progress, hotwords, given_up)

        if len(channels) == 1 or not self._settings.parallel_channels:
            return [words(samples) for samples in channels]
        self._model()  # loaded here, not by both threads at once
        with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="whisper-channel") as pool:
            try:
                return list(pool.map(words, channels))
            except BaseException:
                # Ctrl-C (or the first channel's error) reaches this thread alone: the executor's exit would
                # wait for the channel threads to decode the whole call, so they stop at their next segment.
                given_up.set()
                raise

    def _channels(self, audio: DecodedAudio) -> list[FloatArray]:
        if channels_are_alike(audio, threshold=self._settings.mono_similarity):
            return [audio.mix()]
        return [audio.channels[0], audio.channels[1]]

    def _speaker_map(
        self,
        heard: list[list[SpokenWord]],
        agent: GivenAgent,
        voices: Future[diarization.Diarization] | None,
        channels: list[FloatArray],
    ) -> SpeakerMap:
        """Stereo: roles by channel, checked against the conversation; mono: the diarized ``voices``, then
        roles; ``agent`` is what metadata says. A stereo call whose words are all on one channel is diarized
        there: two voices that clearly separate make it both sides mixed (the other one silent), which
        channel roles would give one role; else it is one-sided (a voicemail): its channel tells its role."""
        if voices is None:
            lone = [index for index, words in enumerate(heard) if words]
            if len(lone) == 1 and self._speakers.diarization:
                found = self._voices(channels[lone[0]])
                if found.count >= 2 and found.confidence >= MIXED_CHANNEL_CONFIDENCE:
                    said = [(word.start, word.end, word.text) for word in heard[lone[0]]]
                    return speakers_module.by_voices(found, said, agent_speaks=agent.speaks)
            left, right = ("".join(word.text for word in words) for words in heard)
            return speakers_module.by_channels(
                (left, right),
                configured_agent=self._settings.agent_channel.row,
                override=None if agent.channel is None else agent.channel.row,
                settings=self._speakers,
            )
        said = [(word.start, word.end, word.text) for word in heard[0]]
        return speakers_module.by_voices(voices.result(), said, agent_speaks=agent.speaks)

    def _voices(self, samples: FloatArray) -> diarization.Diarization:
        return diarization.diarize(
            self._voice_encoder(),
            samples,
            diarization.speech_regions(samples),
            max_speakers=self._speakers.max_speakers,
        )

    def _run(
        self, samples: FloatArray, language: str, task: Task, *, words: bool, hotwords: str | None
    ) -> Iterator[Any]:
        settings = self._settings
        arguments: dict[str, Any] = {
            "language": language,
            "task": task,
            "beam_size": settings.beam_size,
            "temperature": list(settings.temperatures),
            "vad_filter": settings.vad,
            "condition_on_previous_text": False,
            "compression_ratio_threshold": passes.LOOP_COMPRESSION_RATIO,
            "log_prob_threshold": passes.LOW_AVG_LOGPROB,
            "no_speech_threshold": passes.NO_SPEECH_PROBABILITY,
            "word_timestamps": words,
            "hotwords": hotwords,
        }
        model = self._model()
        if settings.batched:
            from faster_whisper import BatchedInferencePipeline

            pipeline = BatchedInferencePipeline(model)
            segments, _ = pipeline.transcribe(samples, batch_size=settings.batch_size, **arguments)
        else:
            segments, _ = model.transcribe(samples, **arguments)
        kept = passes.kept(model, samples, segments, arguments)
        if task == "transcribe" and self._number_beam_size > settings.beam_size:
            kept = passes.numbers_decoded_again(
                model, samples, kept, {**arguments, "beam_size": self._number_beam_size}
            )
        yield from kept

    def _mono_segments(
        self, samples: FloatArray, language: str, task: Task, progress: Progress, hotwords: str | None
    ) -> list[Segment]:
        segments = []
        last_end = 0.0
        for segment in self._run(samples, language, task, words=True, hotwords=hotwords):
            progress.advance(segment.end - last_end)
            last_end = segment.end
            text = cut_repetitions(segment.text.strip())
            if text:
                segments.append(
                    Segment(
                        speaker=Speaker.unknown,
                        start=round(segment.start, 2),
                        end=round(segment.end, 2),
                        text=text,
                        confidence=round(min(1.0, math.exp(segment.avg_logprob)), 3),
                        words=[word.timed() for word in _spoken_words(segment, Speaker.unknown)],
                    )
                )
        progress.advance(len(samples) / 16_000 - last_end)
        return segments

    def _channel_words(
        self,
        samples: FloatArray,
        language: str,
        task: Task,
        progress: Progress,
        hotwords: str | None,
        given_up: threading.Event,
    ) -> list[SpokenWord]:
        """The channel's words; a part of them once ``given_up`` is set, which no one reads then."""
        words: list[SpokenWord] = []
        last_end = 0.0
        for segment in self._run(samples, language, task, words=True, hotwords=hotwords):
            if given_up.is_set():
                return words
            progress.advance(segment.end - last_end)
            last_end = segment.end
            words.extend(_spoken_words(segment, Speaker.unknown))
        progress.advance(len(samples) / 16_000 - last_end)
        return words


def _spoken_words(segment: Any, speaker: Speaker) -> list[SpokenWord]:
    return [
        SpokenWord(word.start, word.end, word.word, float(word.probability), speaker)
        for word in segment.words or []
        if word.word.strip()
    ]
