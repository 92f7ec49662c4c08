"""Blob stores for recordings: the ``BlobStore`` port, a directory adapter, an S3 adapter (``s3.py``,
imported when configured: boto3 takes half a second to import) and an in-memory fake."""

from __future__ import annotations

from callsense.backends.blobstore.base import BlobStore, Leftover, SweepsLeftovers, validate_key
from callsense.backends.blobstore.filesystem import FilesystemBlobStore
from callsense.backends.blobstore.memory import MemoryBlobStore
from callsense.config import Settings
from callsense.config.blobs import BlobBackendName

__all__ = [
    "BlobStore",
    "FilesystemBlobStore",
    "Leftover",
    "MemoryBlobStore",
    "SweepsLeftovers",
    "open_blobstore",
    "validate_key",
]


def open_blobstore(settings: Settings) -> BlobStore:
    """The store ``blobs.backend`` names, the directory ``blob_dir`` or an S3 bucket; connects to nothing."""
    if settings.blobs.backend is BlobBackendName.s3:
        from callsense.backends.blobstore.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings.blobs)
    return FilesystemBlobStore(settings.resolved_blob_dir)
