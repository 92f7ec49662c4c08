"""The speech Whisper's language identification reads: the call's first minute of it, found a few minutes of
audio at a time, so that a long call is not scanned by Silero to its end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callsense.speech import language
from callsense.speech.audio import decode

SPEECH = Path(__file__).parent.parent / "fixtures" / "audio" / "en_refund.mono.flac"
RATE = language.SAMPLE_RATE


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(SPEECH.read_bytes(), max_seconds=120).mix()


def scanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every piece of audio given to Silero from now on."""
    from faster_whisper import vad

    lengths: list[int] = []
    silero = vad.get_speech_timestamps

    def counted(audio: np.ndarray, *args: object, **kwargs: object) -> list[dict[str, int]]:
        lengths.append(len(audio))
        return silero(audio, *args, **kwargs)

    monkeypatch.setattr(vad, "get_speech_timestamps", counted)
    return lengths


def test_a_long_call_is_scanned_only_until_a_minute_of_speech_is_heard(
    speech: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = np.tile(speech, int(20 * 60 * RATE / len(speech)) + 1)  # twenty minutes of talk
    lengths = scanned(monkeypatch)
    heard = language.first_speech(call)
    assert heard is not None and len(heard) == 60 * RATE
    assert sum(lengths) <= 2 * 120 * RATE  # a few minutes of the twenty


def test_speech_after_minutes_of_hold_is_found(speech: np.ndarray) -> None:
    held = np.concatenate([np.zeros(5 * 60 * RATE, dtype=np.float32), speech])
    heard = language.first_speech(held)
    assert heard is not None and 0.5 * len(speech) < len(heard) <= len(speech)


def test_silence_holds_no_speech() -> None:
    assert language.first_speech(np.zeros(3 * 60 * RATE, dtype=np.float32)) is None
