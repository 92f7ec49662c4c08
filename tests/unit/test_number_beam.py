"""Segments holding a read-out number are decoded again with a wider beam while redaction is on
(``redaction.number_beam_size``), up to the next segment; the rest of the call keeps its first pass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from callsense import runtime
from callsense.calls.schemas import Segment
from callsense.config import Settings
from callsense.config.models import ASRSettings, SpeakerSettings
from callsense.config.redaction import RedactionSettings
from callsense.speech import diarization
from callsense.speech.audio import SAMPLE_RATE, AudioInfo, DecodedAudio
from callsense.speech.whisper import WhisperTranscriber

SECONDS = 20


@dataclass
class FakeWord:
    start: float
    end: float
    word: str
    probability: float = 0.9


@dataclass
class FakeSegment:
    start: float
    end: float
    text: str
    words: list[FakeWord] = field(default_factory=list)
    compression_ratio: float = 1.2
    no_speech_prob: float = 0.01
    avg_logprob: float = -0.2

    def __post_init__(self) -> None:
        texts = self.text.split()
        step = (self.end - self.start) / len(texts)
        self.words = [
            FakeWord(self.start + i * step, self.start + (i + 1) * step, f" {t}") for i, t in enumerate(texts)
        ]


class FakeModel:
    """faster-whisper's ``transcribe``: the first pass (no clips) and each clip decoding answered from
    tables, every call's arguments and audio length kept. ``again`` is in the call's time; a clip decoding
    is given the audio from ``again_from`` seconds into the call on (a second before the number's segment),
    and answers in that audio's time, as faster-whisper does."""

    def __init__(self, first_pass: list[FakeSegment], again: list[FakeSegment], *, again_from: float) -> None:
        self.first_pass = first_pass
        self.again = again
        self.again_from = again_from
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, samples: Any, **arguments: Any) -> tuple[list[FakeSegment], None]:
        self.calls.append({**arguments, "audio_seconds": len(samples) / SAMPLE_RATE})
        if "clip_timestamps" not in arguments:
            return self.first_pass, None
        offset = self.again_from
        return [replace(s, start=s.start - offset, end=s.end - offset) for s in self.again], None


def transcribe(
    model: FakeModel,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    number_beam_size: int,
    task: str = "transcribe",
) -> list[Segment]:
    transcriber = WhisperTranscriber(
        ASRSettings(device="cpu"),
        model_dir=tmp_path,
        speakers=SpeakerSettings(diarization=False),
        number_beam_size=number_beam_size,
    )
    monkeypatch.setattr(transcriber, "_resolved", lambda: (tmp_path, False))
    monkeypatch.setattr(transcriber, "_model", lambda: model)
    # The speech between two seconds: all of it (the VAD is measured elsewhere).
    monkeypatch.setattr(diarization, "speech_regions", lambda samples: [(0.0, len(samples) / SAMPLE_RATE)])
    samples = np.zeros((1, SECONDS * SAMPLE_RATE), np.float32)
    audio = DecodedAudio(samples, AudioInfo("wav", "pcm_s16le", SAMPLE_RATE, 1, SECONDS))
    if task == "translate":
        return transcriber.translate(audio, language="es").segments
    return transcriber.transcribe(audio, language="es").segments


FIRST_PASS = [
    FakeSegment(0.0, 2.0, "Hola, tengo dos preguntas."),
    FakeSegment(3.0, 5.0, "la tarjeta es 4-0-1-2."),
    FakeSegment(12.0, 14.0, "Gracias."),
]
AGAIN = [FakeSegment(3.0, 9.5, "la tarjeta es 4012 8888 8888 1881.")]


def test_a_segment_with_a_number_is_decoded_again_with_the_beam_up_to_the_next_segment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = FakeModel(FIRST_PASS, AGAIN, again_from=2.0)
    segments = transcribe(model, monkeypatch, tmp_path, number_beam_size=5)
    assert [(segment.start, segment.end, segment.text) for segment in segments] == [
        (0.0, 2.0, "Hola, tengo dos preguntas."),
        (3.0, 9.5, "la tarjeta es 4012 8888 8888 1881."),  # back in the call's time
        (12.0, 14.0, "Gracias."),
    ]
    first, again = model.calls
    assert first["beam_size"] == 1 and "clip_timestamps" not in first
    assert again["beam_size"] == 5
    # From the number's start to the next segment's: only that audio (with a second either side), not the
    # whole call, is given to Whisper.
    assert again["clip_timestamps"] == [1.0, 10.0] and again["audio_seconds"] == 11.0
    assert again["vad_filter"] is False and again["language"] == "es"


def test_the_last_segment_is_decoded_again_up_to_one_window_or_the_end_of_the_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = FakeModel(
        [FakeSegment(1.0, 3.0, "mi móvil es 612 345")],
        [FakeSegment(1.0, 6.0, "mi móvil es 612345678")],
        again_from=0.0,
    )
    assert [s.text for s in transcribe(model, monkeypatch, tmp_path, number_beam_size=5)] == [
        "mi móvil es 612345678"
    ]
    assert model.calls[1]["clip_timestamps"] == [1.0, SECONDS]


def test_without_a_number_beam_or_a_number_whisper_decodes_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = FakeModel(FIRST_PASS, AGAIN, again_from=2.0)
    segments = transcribe(model, monkeypatch, tmp_path, number_beam_size=1)
    assert [segment.text for segment in segments] == [segment.text for segment in FIRST_PASS]
    assert len(model.calls) == 1
    no_numbers = FakeModel(
        [FIRST_PASS[0], FakeSegment(3.0, 5.0, "Pagué 45 euros el mes pasado.")], AGAIN, again_from=2.0
    )
    transcribe(no_numbers, monkeypatch, tmp_path, number_beam_size=5)
    assert len(no_numbers.calls) == 1


def test_a_translation_is_decoded_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = FakeModel(FIRST_PASS, AGAIN, again_from=2.0)
    transcribe(model, monkeypatch, tmp_path, number_beam_size=5, task="translate")
    assert len(model.calls) == 1


def test_the_first_pass_stays_when_the_second_loses_the_number(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = FakeModel(
        [FakeSegment(1.0, 3.0, "2018 test lap model.")],
        [FakeSegment(1.0, 3.0, "to have model F.")],
        again_from=0.0,
    )
    segments = transcribe(model, monkeypatch, tmp_path, number_beam_size=5)
    assert [segment.text for segment in segments] == ["2018 test lap model."]


def test_the_first_pass_stays_when_the_second_loops_on_a_digit_word(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loop = "la tarjeta es 4-0-1-2 " + ", ".join(["oh"] * 21) + "."  # beam 5 on a Spanish stereo call
    model = FakeModel(FIRST_PASS, [FakeSegment(3.0, 9.5, loop)], again_from=2.0)
    segments = transcribe(model, monkeypatch, tmp_path, number_beam_size=5)
    assert [segment.text for segment in segments] == [segment.text for segment in FIRST_PASS]


def test_the_first_pass_stays_when_the_second_hears_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = FakeModel(
        FIRST_PASS, [FakeSegment(3.0, 9.0, "4 4 4 4", no_speech_prob=0.9, avg_logprob=-1.5)], again_from=2.0
    )
    segments = transcribe(model, monkeypatch, tmp_path, number_beam_size=5)
    assert [segment.text for segment in segments] == [segment.text for segment in FIRST_PASS]


def test_numbers_are_decoded_again_only_while_redaction_is_on(tmp_path: Path) -> None:
    on = Settings(model_dir=tmp_path, asr=ASRSettings(device="cpu"))
    off = Settings(
        model_dir=tmp_path, asr=ASRSettings(device="cpu"), redaction=RedactionSettings(enabled=False)
    )
    assert runtime.whisper_transcriber(on).options("es").number_beam_size == 5  # recorded with the transcript
    assert runtime.whisper_transcriber(off).options("es").number_beam_size == 1


@pytest.mark.parametrize("beam", [0, 11])
def test_a_number_beam_out_of_range_is_refused(beam: int) -> None:
    with pytest.raises(ValidationError, match="number_beam_size"):
        RedactionSettings(number_beam_size=beam)
