"""An in-memory ``BlobStore`` for unit tests: same key rules and errors as the real stores."""

from __future__ import annotations

import threading

from callsense.backends.blobstore.base import validate_key
from callsense.errors import NotFoundError

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBlobStore({len(self._blobs)} blobs)"

    def put(self, key: str, data: bytes) -> None:
        blob = bytes(data)  # a copy: a caller reusing a bytearray must not change what is stored
        with self._lock:
            self._blobs[validate_key(key)] = blob

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._blobs[validate_key(key)]
            except KeyError:
                raise NotFoundError(f"no blob {key!r}") from None

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(validate_key(key), None)
