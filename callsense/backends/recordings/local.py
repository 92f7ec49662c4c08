"""Read a recording from a local file, within the same size limit and audio check as a download."""

from __future__ import annotations

from pathlib import Path

from callsense.backends.recordings.sniff import SNIFF_BYTES, require_audio
from callsense.errors import BadAudioError, PermanentFetchError


def read_file(source: str, *, max_bytes: int) -> bytes:
    path = Path(source).expanduser()
    if not path.is_file():
        raise PermanentFetchError(f"no such file: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadAudioError(f"the file is {size} bytes, over the limit of {max_bytes}")
    if size == 0:
        raise BadAudioError("the file is empty")
    data = path.read_bytes()
    require_audio(data[:SNIFF_BYTES], origin="the file holds")
    return data
