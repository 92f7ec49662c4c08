"""An in-memory ``BlobStore`` for unit tests: same key rules and errors as the real stores."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable

from callsense.backends.blobstore.base import validate_key
from callsense.errors import NotFoundError

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBlobStore({len(self._blobs)} blobs)"

    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        validate_key(key)
        blob = b"".join(chunks)  # stored only once every chunk came: a failing iterator changes nothing
        with self._lock:
            self._blobs[key] = blob

    def open(self, key: str) -> io.BytesIO:
        with self._lock:
            try:
                return io.BytesIO(self._blobs[validate_key(key)])  # bytes are immutable: one version
            except KeyError:
                raise NotFoundError(f"no blob {key!r}") from None

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(validate_key(key), None)
