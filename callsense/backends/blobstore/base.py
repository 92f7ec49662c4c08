"""The port for the audio store: opaque bytes by key, streamed both ways. Callers encrypt before ``put``
(``KeyRing.encrypt_stream``) and decrypt what ``open`` reads (``KeyRing.open_blob``); adapters never see keys.

Blob keys look like object-store keys (``calls/<uuid>/audio``): characters ``[A-Za-z0-9._/-]``, no ``..``, no
leading ``/``, no empty, ``.`` or ``..`` segment. A key may be both a blob and a prefix of others (``a`` and
``a/b``), as on S3. Keys are checked by every adapter, so none can reach outside its store.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from callsense.errors import InvalidBlobKeyError

__all__ = ["BlobStore", "Leftover", "SweepsLeftovers", "validate_key"]

MAX_KEY_LENGTH = 1024
MAX_SEGMENT_LENGTH = 200  # leaves room under the usual 255-byte file-name limit for the adapters' suffixes
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]*")


@runtime_checkable
class BlobStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store the concatenated ``chunks`` under ``key`` as they come, holding a bounded part of them;
        atomically: readers see the old blob or the new one, never a part, also when ``chunks`` raises."""

    def open(self, key: str) -> io.BufferedIOBase:
        """The blob under ``key`` as a seekable reader (``seek(0, SEEK_END)`` gives its size) that fetches
        only what is read, all of it from one version of the blob; raises ``NotFoundError`` when there is
        none. Close it (a ``with`` block)."""

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; a blob already gone is no error (a purge or an erasure may run
        twice). Other blobs whose keys start with ``key`` stay."""


@dataclass(frozen=True)
class Leftover:
    """What a write killed midway left behind and a sweep removed: a temporary file (its path in the store)
    or an incomplete multipart upload (its object key and upload id); ``size`` in bytes where known."""

    name: str
    size: int | None
    age_s: float


@runtime_checkable
class SweepsLeftovers(Protocol):
    """A store whose writes, when killed midway, leave something behind that only takes space."""

    def sweep_leftovers(self) -> list[Leftover]:
        """Remove what writes killed midway left, old enough that no live write can still own it; never a
        blob. Returns what was removed."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise ``InvalidBlobKeyError`` saying what is wrong with it."""
    if not key:
        raise InvalidBlobKeyError("blob key is empty")
    if len(key) > MAX_KEY_LENGTH or not _ALLOWED.fullmatch(key) or ".." in key or key.startswith("/"):
        raise InvalidBlobKeyError(f"invalid blob key {key!r}")
    for segment in key.split("/"):
        if segment in {"", "."}:
            raise InvalidBlobKeyError(f"blob key {key!r} has an empty or '.' segment")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidBlobKeyError(f"blob key {key!r} has a segment longer than {MAX_SEGMENT_LENGTH}")
    return key
