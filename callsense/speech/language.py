"""Which language a call is spoken in: Whisper's language identification on the call's first minute of
speech, which Silero VAD finds a few minutes of audio at a time, so that a long call is not scanned to its
end for it (Silero took 6.7 s over an hour of a call, 0.2 s to find its first minute of speech)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from callsense.errors import BadAudioError
from callsense.speech.audio import FloatArray

SAMPLE_RATE = 16_000
WINDOWS = 2  # Whisper windows of 30 s read for the language: faster-whisper's language_detection_segments
_SCAN_SECONDS = 120  # audio given to Silero at a time until the windows are full


def first_speech(samples: FloatArray, *, seconds: float = 30.0 * WINDOWS) -> FloatArray | None:
    """Up to ``seconds`` of the speech in ``samples`` (16 kHz), joined in order; None when there is none."""
    from faster_whisper.vad import collect_chunks, get_speech_timestamps

    wanted = int(seconds * SAMPLE_RATE)
    heard: list[FloatArray] = []
    scan = _SCAN_SECONDS * SAMPLE_RATE
    for start in range(0, len(samples), scan):
        piece = samples[start : start + scan]
        if spans := get_speech_timestamps(piece):
            heard.extend(collect_chunks(piece, spans)[0])
        if sum(len(chunk) for chunk in heard) >= wanted:
            break
    return np.concatenate(heard)[:wanted] if heard else None


def detect(
    model: Any, samples: FloatArray, *, vad: bool, languages: Sequence[str] = ()
) -> tuple[str | None, float | None]:
    """The language of ``samples`` by ``model`` (a faster-whisper ``WhisperModel``) and its probability, the
    likeliest of ``languages`` when given; (None, None) when VAD (``vad``) finds no speech at all."""
    if vad:
        speech = first_speech(samples)
        if speech is None:
            return None, None
        samples = speech
    try:
        language, probability, ranked = model.detect_language(samples, language_detection_segments=WINDOWS)
    except (ValueError, IndexError) as exc:  # what faster-whisper raises on audio with nothing to read
        raise BadAudioError(f"language detection failed: {exc}") from exc
    if languages:
        language, probability = next((code, p) for code, p in ranked if code in languages)
    return str(language), round(float(probability), 4)
