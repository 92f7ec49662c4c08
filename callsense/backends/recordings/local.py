"""Read a recording from a local file, within the same size limit and audio check as a download."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from callsense.backends.recordings.sniff import SNIFF_BYTES, require_audio
from callsense.errors import BadAudioError, PermanentFetchError

CHUNK = 1 << 20


def existing_file(source: str) -> Path:
    """The file at ``source``; ``PermanentFetchError`` for a directory or nothing there."""
    path = Path(source).expanduser()
    if path.is_dir():
        raise PermanentFetchError(f"{path} is a directory, not a recording file")
    if not path.is_file():
        raise PermanentFetchError(f"no such file: {path}")
    return path


def copy_file(source: str, *, max_bytes: int, into: BinaryIO) -> None:
    """Copy the file at ``source`` into ``into``, a chunk at a time, checked to be audio."""
    path = existing_file(source)
    size = path.stat().st_size
    if size > max_bytes:
        raise BadAudioError(f"the file is {size} bytes, over the limit of {max_bytes}")
    if size == 0:
        raise BadAudioError("the file is empty")
    try:
        file = path.open("rb")
    except OSError as exc:  # permissions: fixing them is a change made by hand, not a retry
        raise PermanentFetchError(f"cannot read {path}: {exc.strerror}") from exc
    with file:
        head = file.read(CHUNK)
        require_audio(head[:SNIFF_BYTES], origin="the file holds")
        copied = 0
        while head:
            copied += len(head)
            if copied > max_bytes:  # it grew since
                raise BadAudioError(f"the file is over the limit of {max_bytes} bytes")
            into.write(head)
            head = file.read(CHUNK)
