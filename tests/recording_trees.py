"""Recordings laid out on disk as real recorders write them, for the folder-source tests and the benchmark."""

from __future__ import annotations

import io
import itertools
import struct
import wave
from pathlib import Path

_MADE = itertools.count(1)


def tiny_wav(*, channels: int = 1, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A valid PCM WAV of silence but its last sample, which differs from every other one made: small,
    decodable by the fetch stage's probe, and never the audio of another call (a source skips a file whose
    audio it took already)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        silence = b"\0\0" * channels * int(rate * seconds)
        out.writeframes(silence[:-4] + struct.pack("<I", next(_MADE)))
    return buffer.getvalue()


def put(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
