from __future__ import annotations

import io
import os
import resource
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from callsense.backends import blobstore
from callsense.backends.blobstore import BlobStore, FilesystemBlobStore, MemoryBlobStore, validate_key
from callsense.crypto import KeyRing
from callsense.errors import (
    BlobStoreUnavailableError,
    InvalidBlobKeyError,
    NotFoundError,
    PermanentError,
)
from tests.blobs import read_blob


@pytest.fixture(params=["memory", "filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    if request.param == "s3":  # a real S3 server (tests/s3server.py), started only when an s3 case runs
        from callsense.backends.blobstore.s3 import S3BlobStore

        server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
        return S3BlobStore(server.shared_client, bucket=bucket, prefix=request.getfixturevalue("s3_prefix"))
    return FilesystemBlobStore(tmp_path / "blobs")


@pytest.fixture
def open_umask() -> Iterator[None]:
    # the most permissive umask: modes must come from the code, not from the environment
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- the contract, run against every implementation ---------------------------------------------------


def test_is_a_blob_store(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


def test_put_get_round_trip(store: BlobStore) -> None:
    store.put("audio/call-1", [b"\x00\x01 opaque bytes"])
    store.put("empty", [b""])
    assert read_blob(store, "audio/call-1") == b"\x00\x01 opaque bytes"
    assert read_blob(store, "empty") == b""


def test_put_takes_chunks_and_open_reads_ranges(store: BlobStore) -> None:
    blob = bytes(range(256)) * 4096  # 1 MiB
    store.put("k", (blob[start : start + 100_000] for start in range(0, len(blob), 100_000)))
    with store.open("k") as reader:
        assert reader.seek(0, io.SEEK_END) == len(blob)
        reader.seek(700_000)
        assert reader.read(10) == blob[700_000:700_010]
        assert reader.tell() == 700_010
        reader.seek(5)
        assert reader.read(3) == blob[5:8]
        reader.seek(len(blob) - 4)
        assert reader.read(100) == blob[-4:] and reader.read(1) == b""


def test_a_failing_stream_leaves_the_old_blob(store: BlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"half of the new"
        raise RuntimeError("the source broke off")

    store.put("k", [b"old"])
    with pytest.raises(RuntimeError, match="broke off"):
        store.put("k", broken())
    assert read_blob(store, "k") == b"old"


def test_a_reader_keeps_to_the_version_it_opened(store: BlobStore) -> None:
    old, new = b"o" * (5 << 20), b"n" * (5 << 20)  # more than one read of the S3 store
    store.put("k", [old])
    with store.open("k") as reader:
        assert reader.read(10) == b"o" * 10
        store.put("k", [new])
        if type(store).__name__ == "S3BlobStore":  # each ranged GET is bound to the version first read
            with pytest.raises(BlobStoreUnavailableError, match="replaced while being read"):
                reader.read()
        else:  # a file stays open on its version; the memory store holds immutable bytes
            assert reader.read() == old[10:]
    assert read_blob(store, "k") == new


def test_get_missing_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFoundError, match="audio/none"):
        read_blob(store, "audio/none")


def test_overwrite_replaces_and_is_idempotent(store: BlobStore) -> None:
    store.put("k", [b"first version, longer than the second"])
    store.put("k", [b"second"])
    store.put("k", [b"second"])
    assert read_blob(store, "k") == b"second"


def test_delete_removes_only_that_blob_and_is_idempotent(store: BlobStore) -> None:
    store.put("calls/1/audio", [b"audio"])
    store.put("calls/1/audio/extra", [b"kept"])
    store.delete("calls/1/audio")
    with pytest.raises(NotFoundError):
        read_blob(store, "calls/1/audio")
    assert read_blob(store, "calls/1/audio/extra") == b"kept"
    store.delete("calls/1/audio")  # gone already: a purge or an erasure that runs twice
    store.delete("never/stored")


def test_delete_checks_the_key(store: BlobStore) -> None:
    with pytest.raises(InvalidBlobKeyError):
        store.delete("../outside")


def test_key_may_also_be_a_prefix(store: BlobStore) -> None:
    store.put("a", [b"1"])
    store.put("a/b", [b"2"])
    assert read_blob(store, "a") == b"1" and read_blob(store, "a/b") == b"2"


def test_a_prefix_is_not_a_blob(store: BlobStore) -> None:
    store.put("a/b", [b"x"])
    with pytest.raises(NotFoundError):
        read_blob(store, "a")


BAD_KEYS = [
    "",
    "../x",
    "a/../../x",
    "..",
    "/abs",
    "a//b",
    "a/./b",
    "./a",
    "a/",
    "a b",
    "a\\b",
    "a\x00b",
    "caf\u00e9",
    "a" * 201,
    "a/" * 600,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_rejects_bad_keys(store: BlobStore, key: str) -> None:
    for call in (lambda: store.put(key, [b"x"]), lambda: read_blob(store, key)):
        with pytest.raises(InvalidBlobKeyError):
            call()


@pytest.mark.parametrize("key", ["a", "audio/0b7e1a8e-2f0c-4b8e-9d51", "A.b_c-d/e.f", ".hidden/x", "a" * 200])
def test_accepts_good_keys(key: str) -> None:
    assert validate_key(key) == key


def test_invalid_key_error_is_permanent_and_a_value_error() -> None:
    assert issubclass(InvalidBlobKeyError, PermanentError)
    assert issubclass(InvalidBlobKeyError, ValueError)


def test_exports() -> None:
    assert set(blobstore.__all__) == {
        "BlobStore",
        "FilesystemBlobStore",
        "Leftover",
        "MemoryBlobStore",
        "SweepsLeftovers",
        "open_blobstore",
        "validate_key",
    }


def test_memory_store_copies_data() -> None:
    store = MemoryBlobStore()
    data = bytearray(b"abc")
    store.put("k", [bytes(data)])
    data[0] = ord("z")
    assert read_blob(store, "k") == b"abc"


# --- the filesystem store -----------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_filesystem_modes(tmp_path: Path) -> None:
    root = tmp_path / "data" / "blobs"
    store = FilesystemBlobStore(root)
    store.put("calls/1/audio", [b"x"])
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for directory in (root / "calls", root / "calls" / "1"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (blob,) = _files(root)
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600


def test_filesystem_failed_write_keeps_old_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    store.put("k", [b"old"])

    def crash(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(BlobStoreUnavailableError, match="Input/output error"):
        store.put("k", [b"new"])
    monkeypatch.undo()
    assert read_blob(store, "k") == b"old"
    assert len(_files(root)) == 1  # the temporary file is gone


def test_filesystem_full_mid_write_says_where_and_is_retried(tmp_path: Path) -> None:
    """The kernel refuses a write half-way (here the file-size limit, as a full disk would): the store says
    which directory, the queue may try again, and neither the old blob nor a temporary file is disturbed."""
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    store.put("calls/1/audio", [b"old"])
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal's kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, limits[1]))
    try:
        with pytest.raises(BlobStoreUnavailableError) as raised:
            store.put("calls/1/audio", (b"x" * 16 * 1024 for _ in range(8)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert raised.value.retryable
    assert str(raised.value) == f"the blob store in {root} cannot write calls/1/audio: File too large"
    assert read_blob(store, "calls/1/audio") == b"old"
    assert len(_files(root)) == 1


def test_filesystem_readers_never_see_half_a_blob(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    versions = [bytes([n]) * (200_000 + n * 1000) for n in range(4)]
    store.put("k", [versions[0]])
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(read_blob(store, "k"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(10):
            for version in versions:
                store.put("k", [version])
    finally:
        stop.set()
        reader.join()
    assert seen and all(blob in versions for blob in seen)


def test_filesystem_ignores_stray_files_and_survives_restart(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    FilesystemBlobStore(root).put("calls/1/audio", [b"x"])
    (root / "calls" / "1" / ".tmpabc.tmp").write_bytes(b"half a write")  # left by a crash
    (root / "README").write_text("not a blob")
    store = FilesystemBlobStore(root)
    for stray in ("calls/1/.tmpabc.tmp", "README"):
        with pytest.raises(NotFoundError):
            read_blob(store, stray)
    assert read_blob(store, "calls/1/audio") == b"x"


def test_encrypted_blob_on_disk_holds_no_plaintext(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    ring = KeyRing.generate()
    audio = b"RIFF....WAVEfmt the customer reads out card number 4111 1111 1111 1111" * 50
    context = "call:0b7e1a8e-2f0c-4b8e-9d51-3a4c7c1f2e90:audio"
    store.put("audio/0b7e1a8e-2f0c-4b8e-9d51-3a4c7c1f2e90", ring.encrypt_stream([audio], context=context))
    (blob,) = _files(root)
    on_disk = blob.read_bytes()
    assert b"4111" not in on_disk and b"RIFF" not in on_disk and b"customer" not in on_disk
    with ring.open_blob(store.open("audio/0b7e1a8e-2f0c-4b8e-9d51-3a4c7c1f2e90"), context=context) as plain:
        assert plain.read() == audio
