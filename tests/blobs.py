"""Blob-store helpers for tests: a whole blob, as stored."""

from __future__ import annotations

import io
from typing import Protocol

from callsense.crypto import KeyRing


class Opens(Protocol):
    def open(self, key: str) -> io.BufferedIOBase: ...


def read_blob(store: Opens, key: str) -> bytes:
    """The blob under ``key``, whole."""
    with store.open(key) as blob:
        return blob.read()


def opened(keyring: KeyRing, ciphertext: bytes, *, context: str) -> bytes:
    """The plaintext of a stored ciphertext of any version: segmented (the recordings) or whole."""
    with keyring.open_blob(io.BytesIO(ciphertext), context=context) as plain:
        return plain.read()
