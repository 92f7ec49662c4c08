"""A long stereo recording made on the spot, for tests of what decoding costs in memory."""

from __future__ import annotations

import io
import wave

import numpy as np

RATE = 8000


def stereo_noise_wav(seconds: int) -> bytes:
    """Independent noise on each channel, 8-bit at 8 kHz: a small file, large 16 kHz float32 samples."""
    rng = np.random.default_rng(7)
    samples = np.clip(rng.normal(128, 30, (seconds * RATE, 2)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(1)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def decoded_bytes(seconds: int) -> int:
    """What ``decode`` keeps of such a recording: two float32 channels at 16 kHz."""
    return seconds * 16_000 * 2 * 4
