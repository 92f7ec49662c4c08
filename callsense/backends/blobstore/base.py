"""The port for the audio store: opaque bytes by key. Callers encrypt before ``put``; adapters never see keys.

Blob keys look like object-store keys (``calls/<uuid>/audio``): characters ``[A-Za-z0-9._/-]``, no ``..``, no
leading ``/``, no empty, ``.`` or ``..`` segment. A key may be both a blob and a prefix of others (``a`` and
``a/b``), as on S3. Keys are checked by every adapter, so none can reach outside its store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from callsense.errors import PermanentError

__all__ = ["BlobStore", "InvalidBlobKeyError", "validate_key", "validate_prefix"]

MAX_KEY_LENGTH = 1024
MAX_SEGMENT_LENGTH = 200  # leaves room under the usual 255-byte file-name limit for the adapters' suffixes
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]*")


class InvalidBlobKeyError(PermanentError, ValueError):
    """A blob key or prefix outside the allowed form: a programming error, never retried."""


@runtime_checkable
class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, atomically: readers see the old blob or the new one, never a part."""

    def get(self, key: str) -> bytes:
        """The blob under ``key``; raises ``NotFoundError`` when there is none."""

    def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when there is none."""

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix`` (a plain string prefix), sorted, as of the call."""


def validate_prefix(prefix: str) -> str:
    """Check a ``keys()`` prefix: like a key, but may be empty or end with ``/`` or mid-segment."""
    too_long = len(prefix) > MAX_KEY_LENGTH
    if too_long or not _ALLOWED.fullmatch(prefix) or ".." in prefix or prefix.startswith("/"):
        raise InvalidBlobKeyError(f"invalid blob key prefix {prefix!r}")
    return prefix


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise ``InvalidBlobKeyError`` saying what is wrong with it."""
    if not key:
        raise InvalidBlobKeyError("blob key is empty")
    validate_prefix(key)
    for segment in key.split("/"):
        if segment in {"", "."}:
            raise InvalidBlobKeyError(f"blob key {key!r} has an empty or '.' segment")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidBlobKeyError(f"blob key {key!r} has a segment longer than {MAX_SEGMENT_LENGTH}")
    return key
