"""Quietly recorded calls through real Whisper and Silero VAD: speech peaking at -60 dBFS (a recorder with low
gain, a far-away handset), which the VAD alone does not hear, is transcribed from a lifted copy, the decoded
call left as it was; a line of near-silence, hiss or hum, lifted or not, still holds no speech."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from callsense.config.models import ASRSettings
from callsense.speech import level
from callsense.speech.audio import SAMPLE_RATE, DecodedAudio, decode
from callsense.speech.whisper import WhisperTranscriber
from tests.conftest import AUDIO

pytestmark = pytest.mark.slow

SECONDS = 10


def at_peak(audio: DecodedAudio, peak_dbfs: float) -> DecodedAudio:
    """``audio`` scaled to peak at ``peak_dbfs`` and rounded to 16-bit steps, as a recorder would store it."""
    scaled = audio.channels * (10 ** (peak_dbfs / 20) / float(np.abs(audio.channels).max()))
    return replace(audio, channels=(np.round(scaled * 32767) / 32767).astype(np.float32))


def line(samples: np.ndarray) -> DecodedAudio:
    """A mono call of ``samples``, with the info of a real one."""
    short = decode((AUDIO / "en_short.mono.flac").read_bytes(), max_seconds=60)
    return replace(short, channels=samples[None, :].astype(np.float32))


def transcriber(model_dir: Path, *, vad: bool = True) -> WhisperTranscriber:
    return WhisperTranscriber(ASRSettings(model="base", device="cpu", vad=vad), model_dir=model_dir)


def test_a_mono_call_peaking_at_minus_60_dbfs_has_its_words(model_dir: Path) -> None:
    audio = at_peak(decode((AUDIO / "en_short.mono.flac").read_bytes(), max_seconds=60), -60)
    recorded = audio.channels.copy()
    transcript = transcriber(model_dir).transcribe(audio)
    assert transcript.language == "en"
    assert "status of the order" in transcript.text, transcript.text
    assert np.array_equal(audio.channels, recorded)  # the lift is a copy: talk figures and masking read this


def near_silence() -> DecodedAudio:
    return decode((AUDIO / "silence.flac").read_bytes(), max_seconds=60)


def hiss() -> DecodedAudio:
    """White noise at -75 dBFS RMS (peaks near -62 dBFS)."""
    return line(np.random.default_rng(3).normal(0, 10 ** (-75 / 20), SECONDS * SAMPLE_RATE))


def hum() -> DecodedAudio:
    """Mains hum at -60 dBFS peak: 50 Hz and its odd harmonics."""
    t = np.arange(SECONDS * SAMPLE_RATE) / SAMPLE_RATE
    harmonics = ((50, 0.7), (150, 0.2), (250, 0.1))
    return line(10 ** (-60 / 20) * sum(weight * np.sin(2 * np.pi * hertz * t) for hertz, weight in harmonics))


@pytest.mark.parametrize(
    ("noise", "vad", "lifted"),
    [
        (near_silence, True, False),  # the least bit's noise is not lifted
        (hiss, True, True),
        (hum, True, True),
        (hiss, False, True),  # lifted noise straight into Whisper
    ],
)
def test_a_line_without_speech_still_has_none(
    model_dir: Path, noise: Callable[[], DecodedAudio], vad: bool, lifted: bool
) -> None:
    call = noise()
    assert (level.gain(call) > 1.0) == lifted
    transcript = transcriber(model_dir, vad=vad).transcribe(call)
    assert transcript.segments == [], transcript.text
