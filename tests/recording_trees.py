"""Recordings laid out on disk as real recorders write them, for the folder-source tests and the benchmark."""

from __future__ import annotations

import io
import wave
from pathlib import Path


def tiny_wav(*, channels: int = 1, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A valid PCM WAV of silence: small, and decodable by the fetch stage's probe."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * channels * int(rate * seconds))
    return buffer.getvalue()


def put(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
