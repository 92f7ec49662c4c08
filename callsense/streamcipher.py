"""Version 3 of callsense's ciphertexts: a blob sealed in segments, so that it is written and read a segment
at a time (the STREAM construction of Tink's ``AesGcmHkdfStreaming`` and of age).

Layout: header | segment 0 | segment 1 | ... | last segment, where

- header: version (3) | key-id length (1 byte) | key id (ASCII; empty: the data key of the call the context
  names) | salt (32 random bytes) | nonce prefix (7 random bytes);
- each segment: ``SEGMENT_BYTES`` of plaintext (the last one 1 to ``SEGMENT_BYTES``, or 0 when the whole
  plaintext is empty) sealed by AES-256-GCM with a 16-byte tag, under the blob's own key
  HKDF-SHA256(key, salt, info = label | header | context), with the nonce prefix | segment number (4 bytes,
  big endian) | 1 for the last segment, else 0.

The blob key binds the header and the context, so a blob given another call's name, key id, salt or prefix
opens nothing; the numbered nonces refuse reordered segments and segments taken from another blob (another
key); the last-segment flag refuses a blob cut at a segment boundary and one with segments appended. The
reader checks the last segment when it opens, so the plaintext size it reports is authenticated, and then
decrypts only the segments that are read.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from callsense.errors import DecryptionError

__all__ = ["SEGMENT_BYTES", "VERSION", "Header", "SegmentReader", "chunks_of", "parse_header", "seal"]

VERSION = 3
SEGMENT_BYTES = 1 << 20  # of plaintext per segment: what a reader decrypts to serve any byte of it
_TAG_BYTES = 16
_SEALED_SEGMENT = SEGMENT_BYTES + _TAG_BYTES
_SALT_BYTES = 32
_PREFIX_BYTES = 7  # with the 4-byte counter and the flag, a 12-byte GCM nonce
_MAX_KEY_ID = 64
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_SEGMENTS = 1 << 32
_LABEL = b"callsense segmented blob v3|"
# Enough of a blob's beginning to parse any header (and to tell the key of any older version).
HEAD_BYTES = 2 + _MAX_KEY_ID + _SALT_BYTES + _PREFIX_BYTES


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def chunks_of(file: Readable, size: int = SEGMENT_BYTES) -> Iterator[bytes]:
    """``file`` from where it stands to its end, ``size`` bytes at a time: what to feed ``seal`` from a
    file, or to read a plaintext by."""
    while chunk := file.read(size):
        yield chunk


class Header(NamedTuple):
    raw: bytes
    key_id: str | None  # None: the data key of the context's call
    salt: bytes
    prefix: bytes


def make_header(key_id: str | None) -> Header:
    name = (key_id or "").encode("ascii")
    salt, prefix = os.urandom(_SALT_BYTES), os.urandom(_PREFIX_BYTES)
    return Header(bytes([VERSION, len(name)]) + name + salt + prefix, key_id, salt, prefix)


def parse_header(head: bytes) -> Header:
    """The header at the start of ``head`` (at least its first ``HEAD_BYTES``, or the whole blob)."""
    if len(head) < 2 or head[0] != VERSION:
        raise DecryptionError("not a segmented callsense ciphertext")
    name_end = 2 + head[1]
    end = name_end + _SALT_BYTES + _PREFIX_BYTES
    if head[1] > _MAX_KEY_ID or len(head) < end:
        raise DecryptionError("ciphertext is truncated, or its header is malformed")
    key_id = head[2:name_end].decode("ascii", errors="replace") or None
    if key_id is not None and not _KEY_ID.fullmatch(key_id):
        raise DecryptionError("ciphertext names an invalid key id")
    salt_end = name_end + _SALT_BYTES
    return Header(head[:end], key_id, head[name_end:salt_end], head[salt_end:end])


def _blob_cipher(key: bytes, header: Header, context: str) -> AESGCM:
    info = _LABEL + header.raw + context.encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=header.salt, info=info).derive(key)
    return AESGCM(derived)


def _nonce(prefix: bytes, index: int, *, last: bool) -> bytes:
    if index >= _MAX_SEGMENTS:
        raise DecryptionError("blob has more segments than the format allows")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def seal(chunks: Iterable[bytes], *, key: bytes, key_id: str | None, context: str) -> Iterator[bytes]:
    """The ciphertext of the concatenated ``chunks``: the header, then one sealed segment after another.
    Holds at most one segment and the chunk being cut up."""
    header = make_header(key_id)
    cipher = _blob_cipher(key, header, context)
    yield header.raw
    pending = bytearray()
    index = 0
    for chunk in chunks:
        pending += chunk
        if len(pending) <= SEGMENT_BYTES:
            continue
        whole = (len(pending) - 1) // SEGMENT_BYTES  # keep at least a byte back: it may be the last
        with memoryview(pending) as view:
            for start in range(0, whole * SEGMENT_BYTES, SEGMENT_BYTES):
                plain = bytes(view[start : start + SEGMENT_BYTES])
                yield cipher.encrypt(_nonce(header.prefix, index, last=False), plain, None)
                index += 1
        del pending[: whole * SEGMENT_BYTES]
    yield cipher.encrypt(_nonce(header.prefix, index, last=True), bytes(pending), None)


class SegmentReader(io.BufferedIOBase):
    """The plaintext of a segmented blob read from ``source`` (seekable), decrypting only the segments read;
    keeps one segment's plaintext. Closing it closes ``source``."""

    def __init__(self, source: io.BufferedIOBase, header: Header, *, key: bytes, context: str) -> None:
        super().__init__()
        self._source = source
        self._header = header
        self._cipher = _blob_cipher(key, header, context)
        self._context = context
        sealed = source.seek(0, io.SEEK_END) - len(header.raw)
        self._segments = max(1, -(-sealed // _SEALED_SEGMENT))
        last_sealed = sealed - (self._segments - 1) * _SEALED_SEGMENT
        if last_sealed < _TAG_BYTES:
            raise DecryptionError("ciphertext is truncated")
        self._size = sealed - self._segments * _TAG_BYTES
        self._position = 0
        self._cached: tuple[int, bytes] = (-1, b"")
        self._segment(self._segments - 1)  # the last one, so a cut or extended blob is refused at once

    @property
    def size(self) -> int:
        """The plaintext's length, authenticated by the last segment."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative), fewer only at the end."""
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        parts = []
        while self._position < end:
            index, offset = divmod(self._position, SEGMENT_BYTES)
            plain = self._segment(index)
            part = plain[offset : offset + end - self._position]
            parts.append(part)
            self._position += len(part)
        return b"".join(parts)

    read1 = read

    def close(self) -> None:
        if not self.closed:
            self._source.close()
            self._cached = (-1, b"")
        super().close()

    def _segment(self, index: int) -> bytes:
        if self._cached[0] == index:
            return self._cached[1]
        self._source.seek(len(self._header.raw) + index * _SEALED_SEGMENT)
        sealed = self._source.read(_SEALED_SEGMENT)
        last = index == self._segments - 1
        try:
            plain = self._cipher.decrypt(_nonce(self._header.prefix, index, last=last), sealed, None)
        except InvalidTag:
            raise DecryptionError(
                f"segment {index} of the blob does not open with context {self._context!r}: tampered, "
                "truncated, or stored for another record"
            ) from None
        self._cached = (index, plain)
        return plain
