"""Blob stores for recordings: the ``BlobStore`` port, a directory adapter and an in-memory fake."""

from __future__ import annotations

from callsense.backends.blobstore.base import BlobStore, InvalidBlobKeyError, validate_key, validate_prefix
from callsense.backends.blobstore.filesystem import FilesystemBlobStore
from callsense.backends.blobstore.memory import MemoryBlobStore

__all__ = [
    "BlobStore",
    "FilesystemBlobStore",
    "InvalidBlobKeyError",
    "MemoryBlobStore",
    "validate_key",
    "validate_prefix",
]
