"""Blob stores for recordings: the ``BlobStore`` port, a directory adapter and an in-memory fake."""

from __future__ import annotations

from callsense.backends.blobstore.base import BlobStore, validate_key
from callsense.backends.blobstore.filesystem import FilesystemBlobStore
from callsense.backends.blobstore.memory import MemoryBlobStore
from callsense.config import Settings

__all__ = ["BlobStore", "FilesystemBlobStore", "MemoryBlobStore", "open_blobstore", "validate_key"]


def open_blobstore(settings: Settings) -> BlobStore:
    """The store the settings name: today a directory (``blob_dir``); an object store would plug in here."""
    return FilesystemBlobStore(settings.resolved_blob_dir)
