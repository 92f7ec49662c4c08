"""Segmented ciphertexts (version 3, ``callsense/streamcipher.py``) through the key ring: round trips at the
segment boundaries, ranged reads that decrypt only the segments they cover, the size known from the last
segment, every kind of tampering refused, and the older whole-message versions still opening."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from callsense.crypto import HEAD_BYTES, KeyRing
from callsense.errors import DataKeyDestroyedError, DecryptionError
from callsense.streamcipher import SEGMENT_BYTES, parse_header
from tests.data_keys import DictDataKeys

S = SEGMENT_BYTES
SEALED = S + 16  # a whole segment as stored
CALL = uuid.UUID(int=7)
CONTEXT = f"call:{CALL}:audio"
SIZES = [0, 1, S - 1, S, S + 1, 2 * S, 3 * S + 12345]


def _plain(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size)) if size < 4096 else os.urandom(size)


def _seal(ring: KeyRing, plain: bytes, *, chunk: int = 100_000, context: str = CONTEXT) -> bytes:
    chunks = [plain[start : start + chunk] for start in range(0, len(plain), chunk)]
    return b"".join(ring.encrypt_stream(chunks, context=context))


def _open(ring: KeyRing, sealed: bytes, context: str = CONTEXT) -> bytes:
    with ring.open_blob(io.BytesIO(sealed), context=context) as plain:
        return plain.read()


def _header_bytes(sealed: bytes) -> int:
    return len(parse_header(sealed[:HEAD_BYTES]).raw)


class CountingFile(io.BytesIO):
    """A blob in memory that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_at_segment_boundaries(ring: KeyRing, size: int) -> None:
    plain = _plain(size)
    sealed = _seal(ring, plain)
    segments = max(1, -(-size // S))
    assert len(sealed) == _header_bytes(sealed) + size + 16 * segments
    assert _open(ring, sealed) == plain


@pytest.mark.parametrize("chunk", [1, 4096, S - 1, S, 3 * S])
def test_any_chunking_gives_the_same_plaintext(ring: KeyRing, chunk: int) -> None:
    plain = _plain(2 * S + 7)
    if chunk == 1:
        plain = plain[: S + 3]  # one byte at a time: keep it short
    assert _open(ring, _seal(ring, plain, chunk=chunk)) == plain


def test_an_empty_stream_of_chunks_is_an_empty_plaintext(ring: KeyRing) -> None:
    sealed = b"".join(ring.encrypt_stream([], context=CONTEXT))
    assert _open(ring, sealed) == b""


def test_sealed_under_the_calls_data_key_or_the_ring_key(ring: KeyRing, data_keys: DictDataKeys) -> None:
    under_data_key = _seal(ring, b"audio")
    assert ring.key_id_of(under_data_key[:HEAD_BYTES]) is None and CALL in data_keys.keys
    under_ring_key = _seal(ring, b"probe", context="doctor/probe")  # names no call
    assert ring.key_id_of(under_ring_key[:HEAD_BYTES]) == ring.active_key_id
    assert _open(ring, under_ring_key, context="doctor/probe") == b"probe"
    ring.rotate()
    assert ring.needs_rotation(under_ring_key[:HEAD_BYTES])
    assert not ring.needs_rotation(under_data_key[:HEAD_BYTES])


def test_the_ciphertext_hides_the_plaintext_and_differs_each_time(ring: KeyRing) -> None:
    plain = b"RIFF....WAVEfmt card number 4111 1111 1111 1111" * 1000
    first, second = _seal(ring, plain), _seal(ring, plain)
    assert b"4111" not in first and b"RIFF" not in first
    assert first != second and first[:1] == bytes([3])


def test_ranged_reads_decrypt_only_the_segments_they_cover(ring: KeyRing) -> None:
    plain = _plain(8 * S + 100)
    sealed = _seal(ring, plain)
    source = CountingFile(sealed)
    with ring.open_blob(source, context=CONTEXT) as reader:
        opened = source.bytes_read  # the header and the last segment: the size is authenticated
        assert opened <= HEAD_BYTES + SEALED
        assert reader.seek(0, io.SEEK_END) == len(plain)
        for start, length in [(5 * S - 10, 20), (3, 1000), (8 * S + 50, 50), (2 * S, S), (7 * S + 1, 0)]:
            before = source.bytes_read
            reader.seek(start)
            assert reader.read(length) == plain[start : start + length]
            assert reader.tell() == start + length
            covered = (start + length - 1) // S - start // S + 1 if length else 0
            assert source.bytes_read - before <= covered * SEALED
        reader.seek(len(plain) + 10)
        assert reader.read(5) == b""
    assert source.closed  # the reader owns its source


def _segments(sealed: bytes) -> tuple[bytes, list[bytes]]:
    header = _header_bytes(sealed)
    body = sealed[header:]
    return sealed[:header], [body[start : start + SEALED] for start in range(0, len(body), SEALED)]


def test_truncation_is_refused(ring: KeyRing) -> None:
    sealed = _seal(ring, _plain(3 * S + 10))
    header, segments = _segments(sealed)
    cuts = {
        "the last segment dropped": header + b"".join(segments[:-1]),
        "cut at a segment boundary": header + segments[0],
        "cut inside a segment": sealed[:-5],
        "cut inside the last tag": sealed[: -len(segments[-1]) + 3],
        "the header alone": header,
        "half the header": header[:20],
    }
    for what, cut in cuts.items():
        with pytest.raises(DecryptionError):
            _open(ring, cut)
            pytest.fail(what)


def test_reordered_appended_and_swapped_segments_are_refused(ring: KeyRing) -> None:
    plain = _plain(3 * S + 10)
    header, segments = _segments(_seal(ring, plain))
    other_header, other_segments = _segments(_seal(ring, plain))  # same call, same plaintext, another blob
    forged = {
        "reordered": header + segments[1] + segments[0] + b"".join(segments[2:]),
        "a segment from another blob": header + other_segments[0] + b"".join(segments[1:]),
        "another blob's header": other_header + b"".join(segments),
        "a segment repeated": header + segments[0] + b"".join(segments),
        "a segment appended": header + b"".join(segments) + segments[0],
        "bytes appended": header + b"".join(segments) + b"\x00" * 40,
    }
    for what, sealed in forged.items():
        with pytest.raises(DecryptionError):
            data = _open(ring, sealed)
            pytest.fail(f"{what} opened ({len(data)} bytes)")


@pytest.mark.parametrize("where", ["key-id length", "salt", "nonce prefix", "first segment", "last tag"])
def test_a_flipped_byte_is_refused(ring: KeyRing, where: str) -> None:
    sealed = bytearray(_seal(ring, _plain(2 * S + 10)))
    header = _header_bytes(bytes(sealed))
    position = {
        "key-id length": 1,
        "salt": 2 + 5,
        "nonce prefix": header - 2,
        "first segment": header + 1000,
        "last tag": len(sealed) - 1,
    }[where]
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        _open(ring, bytes(sealed))


def test_a_flipped_byte_in_a_middle_segment_fails_when_read(ring: KeyRing) -> None:
    plain = _plain(4 * S)
    sealed = bytearray(_seal(ring, plain))
    sealed[_header_bytes(bytes(sealed)) + 2 * SEALED + 7] ^= 0x80
    with ring.open_blob(io.BytesIO(bytes(sealed)), context=CONTEXT) as reader:
        assert reader.read(S) == plain[:S]  # segments before it still read
        with pytest.raises(DecryptionError, match="segment 2"):
            reader.read()


def test_the_wrong_context_or_call_is_refused(ring: KeyRing) -> None:
    sealed = _seal(ring, b"the customer's recording")
    for context in (f"call:{CALL}:redacted_audio", f"call:{uuid.UUID(int=8)}:audio"):
        with pytest.raises(DecryptionError):
            _open(ring, sealed, context=context)


def test_another_ring_or_a_destroyed_data_key_opens_nothing(ring: KeyRing, data_keys: DictDataKeys) -> None:
    sealed = _seal(ring, b"secret", context="doctor/probe")
    with pytest.raises(DecryptionError, match="not in the key ring"):
        _open(KeyRing.generate(), sealed, context="doctor/probe")
    under_data_key = _seal(ring, b"secret")
    data_keys.keys[CALL] = None
    with pytest.raises(DataKeyDestroyedError):
        _open(ring, under_data_key)


def test_whole_message_versions_still_open_as_streams(ring: KeyRing) -> None:
    plain = b"a recording from before segments" * 100
    version_2 = ring.encrypt(plain, context=CONTEXT)
    version_1 = KeyRing(dict.fromkeys([ring.active_key_id], b"k" * 32), ring.active_key_id)
    direct = version_1.encrypt(plain, context=CONTEXT)
    assert version_2[:1] == b"\x02" and direct[:1] == b"\x01"
    assert _open(ring, version_2) == plain
    assert _open(version_1, direct) == plain
    with version_1.open_blob(io.BytesIO(direct), context=CONTEXT) as reader:
        reader.seek(33)
        assert reader.read(5) == plain[33:38]
