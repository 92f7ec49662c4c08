"""The S3 archive against a real S3 server (SeaweedFS on loopback, tests/s3server.py): what lands in the
bucket, multipart uploads, a server killed mid-upload, wrong settings, a call processed end to end, and its
record archived (blobs.archive_records)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
import tracemalloc
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import numpy as np
import pytest

from callsense.backends.blobstore.s3 import Parts, S3BlobStore
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls import access
from callsense.calls import service as calls
from callsense.calls.schemas import CallRecord, CallStatus
from callsense.cli import doctor
from callsense.config import Settings
from callsense.config.blobs import MIB, BlobSettings
from callsense.crypto import KeyRing
from callsense.errors import BlobStoreRefusedError, BlobStoreUnavailableError, NotFoundError
from callsense.pipeline import analyse, erasure, fetch, ingest, inline, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.speech.fake import FakeTranscriber
from callsense.streamcipher import chunks_of
from tests.blobs import read_blob
from tests.conftest import AUDIO, status_of
from tests.integration.test_stages import TURNS, _answer
from tests.redaction_calls import CARD, process
from tests.redaction_calls import runtime as redaction_runtime
from tests.s3server import SeaweedS3

# Small parts, so that a few MiB make a multipart upload (S3's smallest part is 5 MiB).
MULTIPART = {"multipart_threshold_bytes": 5 * MIB, "multipart_part_bytes": 5 * MIB, "max_concurrency": 1}


def _store(server: SeaweedS3, bucket: str, **options: Any) -> S3BlobStore:
    return S3BlobStore.from_settings(BlobSettings(**server.settings(bucket, **options)))


def _raw(server: SeaweedS3, bucket: str, name: str) -> dict[str, Any]:
    response: dict[str, Any] = server.shared_client.get_object(Bucket=bucket, Key=name)
    return {**response, "Body": response["Body"].read()}


def _put_and_get(store: S3BlobStore) -> list[Callable[[], object]]:
    return [lambda: store.put("k", [b"x"]), lambda: read_blob(store, "k")]


def test_the_bucket_holds_ciphertext_only_under_the_prefix(
    s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str
) -> None:
    store = _store(s3_server, s3_bucket, prefix=s3_prefix)
    ring = KeyRing.generate()
    audio = b"RIFF....WAVEfmt the customer reads out card number 4111 1111 1111 1111" * 50
    store.put("calls/1/audio", ring.encrypt_stream([audio], context="call:1:audio"))
    listed = s3_server.shared_client.list_objects_v2(Bucket=s3_bucket, Prefix=s3_prefix)["Contents"]
    assert [item["Key"] for item in listed] == [f"{s3_prefix}calls/1/audio"]
    stored = _raw(s3_server, s3_bucket, f"{s3_prefix}calls/1/audio")["Body"]
    assert b"4111" not in stored and b"RIFF" not in stored and b"customer" not in stored
    with ring.open_blob(store.open("calls/1/audio"), context="call:1:audio") as plain:
        assert plain.read() == audio


def test_a_large_blob_goes_up_in_parts(s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str) -> None:
    store = _store(s3_server, s3_bucket, prefix=s3_prefix, **MULTIPART)
    blob = bytes(range(256)) * (12 * MIB // 256) + b"tail"  # 12 MiB and a bit: three parts
    store.put("large", (blob[start : start + 300_000] for start in range(0, len(blob), 300_000)))
    assert read_blob(store, "large") == blob
    # a multipart object's ETag is "<md5 of the parts' md5s>-<number of parts>"
    assert _raw(s3_server, s3_bucket, f"{s3_prefix}large")["ETag"].strip('"').endswith("-3")


def test_a_server_killed_mid_upload_leaves_the_old_blob(tmp_path: Path) -> None:
    server = SeaweedS3(tmp_path / "seaweedfs")  # a server of its own: this test kills it
    server.start()
    try:
        bucket = server.new_bucket()
        client = server.client(max_attempts=2)
        store = S3BlobStore(client, bucket=bucket, parts=Parts(threshold=5 * MIB, part_bytes=5 * MIB))
        store.put("calls/1/audio", [b"old version"])
        killed = threading.Event()

        def kill_before_second_part(request: Any, **_: Any) -> None:
            if "partNumber=2" in request.url and not killed.is_set():
                killed.set()
                server.kill()

        client.meta.events.register("before-send.s3.UploadPart", kill_before_second_part)
        with pytest.raises(BlobStoreUnavailableError, match="unavailable"):
            store.put("calls/1/audio", [b"n" * MIB] * 11)
        assert killed.is_set()
        with pytest.raises(BlobStoreUnavailableError):  # and while it is down, reads say so too
            read_blob(store, "calls/1/audio")
        server.start()
        # the unfinished upload never became visible
        assert _once_volumes_are_back(lambda: read_blob(store, "calls/1/audio")) == b"old version"
        listed = server.shared_client.list_objects_v2(Bucket=bucket)["Contents"]
        assert [(item["Key"], item["Size"]) for item in listed] == [("calls/1/audio", len(b"old version"))]
        store.put("calls/1/audio", [b"n" * MIB] * 11)  # the job's retry
        assert read_blob(store, "calls/1/audio") == b"n" * (11 * MIB)
    finally:
        server.kill()


def _once_volumes_are_back(read: Callable[[], bytes]) -> bytes:
    """After a restart the S3 gateway answers before its volume server is back (500 InternalError, which the
    job queue would retry): read until it answers, within a bound."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return read()
        except BlobStoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_wrong_credentials_are_refused_naming_the_settings(s3_server: SeaweedS3, s3_bucket: str) -> None:
    for wrong in ({"secret_access_key": "not-the-secret"}, {"access_key_id": "nobody"}):
        for attempt in _put_and_get(_store(s3_server, s3_bucket, **wrong)):
            with pytest.raises(BlobStoreRefusedError, match=r"refused access .*blobs\.secret_access_key"):
                attempt()


def test_a_missing_bucket_is_refused_not_retried(s3_server: SeaweedS3) -> None:
    for attempt in _put_and_get(_store(s3_server, "no-such-bucket-here")):
        with pytest.raises(BlobStoreRefusedError, match=r"'no-such-bucket-here' .* does not exist"):
            attempt()


def test_no_credentials_anywhere_is_refused(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookup from a test
    settings = s3_server.settings(s3_bucket)
    del settings["access_key_id"], settings["secret_access_key"]
    store = S3BlobStore.from_settings(BlobSettings(**settings))
    with pytest.raises(BlobStoreRefusedError, match=r"no credentials; set blobs\.access_key_id"):
        store.put("k", [b"x"])


def test_missing_blob_is_not_found(s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str) -> None:
    with pytest.raises(NotFoundError, match="no blob 'calls/2/audio'"):
        _store(s3_server, s3_bucket, prefix=s3_prefix).open("calls/2/audio")


def test_proxy_variables_are_ignored(
    s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: going through it would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    store = _store(s3_server, s3_bucket, prefix=s3_prefix, max_attempts=1)
    store.put("k", [b"direct"])
    assert read_blob(store, "k") == b"direct"


def test_doctor_checks_the_bucket(
    s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str, tmp_path: Path
) -> None:
    good = Settings(data_dir=tmp_path, blobs=s3_server.settings(s3_bucket, prefix=s3_prefix))
    expected = doctor.Check("archive", True, f"S3 bucket {s3_bucket}/{s3_prefix}: writable")
    assert doctor._archive(good) == expected
    missing = Settings(data_dir=tmp_path, blobs=s3_server.settings("no-such-bucket-here"))
    check = doctor._archive(missing)
    assert not check.ok and "does not exist; create it, or correct blobs.bucket" in check.detail


@pytest.fixture
def rt(settings: Settings, s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str) -> Iterator[Runtime]:
    archived = Settings.model_validate(
        {**settings.model_dump(), "blobs": s3_server.settings(s3_bucket, prefix=s3_prefix)}
    )
    runtime = dataclasses.replace(
        open_runtime(archived),
        recordings=FakeRecordings({SOURCE: RECORDING}),
        transcriber=FakeTranscriber(TURNS),
        llm=FakeLLM(_answer),
    )
    yield runtime
    runtime.db.close()


SOURCE = "https://recorder.example/call.flac"
RECORDING = (AUDIO / "en_short.mono.flac").read_bytes()


def test_a_call_is_processed_with_its_audio_in_s3(rt: Runtime, s3_server: SeaweedS3, s3_bucket: str) -> None:
    assert isinstance(rt.blobs, S3BlobStore)
    call_pk = ingest.ingest(rt, call_id="archived", source=SOURCE).call_pk
    assert fetch.run(rt, call_pk, local_files=False) == "transcribe"
    assert transcribe.run(rt, call_pk) == "analyse"
    analyse.run(rt, call_pk)
    assert status_of(rt, call_pk) is CallStatus.done
    with rt.db.transaction() as session:  # the dashboard's player reads it back from the bucket
        played = access.play_recording(
            session=session,
            keyring=rt.keyring,
            blobs=rt.blobs,
            call_id="archived",
            range_header="bytes=0-99",
            actor="test",
            via="web",
        )
    # redaction is on: the player reads the redacted copy (FLAC), and the original is not kept
    content = b"".join(played.content())
    assert played.media_type == "audio/flac" and content.startswith(b"fLaC")
    assert len(content) == 100 and played.size > 100
    stored = _raw(s3_server, s3_bucket, rt.settings.blobs.prefix + calls.redacted_audio_blob_key(call_pk))
    assert b"fLaC" not in stored["Body"] and len(stored["Body"]) > played.size  # ciphertext: nonce, tag added
    with pytest.raises(botocore.exceptions.ClientError):
        _raw(s3_server, s3_bucket, rt.settings.blobs.prefix + calls.audio_blob_key(call_pk))


def test_the_record_is_archived_in_the_bucket_as_ciphertext(
    settings: Settings, s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str
) -> None:
    blobs = {**s3_server.settings(s3_bucket, prefix=s3_prefix), "archive_records": True}
    rt = redaction_runtime(Settings.model_validate({**settings.model_dump(), "blobs": blobs}))
    try:
        call_pk, _ = process(rt, "recorded")
        name = s3_prefix + calls.record_blob_key(call_pk)
        sealed = _raw(s3_server, s3_bucket, name)["Body"]
        assert CARD.split()[0].encode() not in sealed and b"CARD_NUMBER" not in sealed
        record = rt.keyring.decrypt(sealed, context=calls.record_context(call_pk))  # small: one message
        assert CallRecord.model_validate_json(record) == inline.record(rt, call_pk)
        assert b"My card is [CARD_NUMBER]" in record
        erasure.erase(rt, call_id="recorded", actor="dpo", reason="DSR-7", via="cli")
        with pytest.raises(botocore.exceptions.ClientError):
            _raw(s3_server, s3_bucket, name)
    finally:
        rt.db.close()


def _long_wav(path: Path, *, size: int) -> None:
    """A 16 kHz mono WAV of about ``size`` bytes: quiet noise, written a minute at a time."""
    rng = np.random.default_rng(0)
    minute = 16_000 * 60
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        for _ in range(size // (2 * minute)):
            out.writeframes(rng.integers(-3000, 3000, size=minute, dtype=np.int16).tobytes())


def test_a_long_recording_goes_up_in_parts_and_back_in_bounded_memory(
    settings: Settings, s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str, tmp_path: Path
) -> None:
    recording = tmp_path / "long.wav"
    _long_wav(recording, size=64 * MIB)
    size = recording.stat().st_size
    blobs = s3_server.settings(s3_bucket, prefix=s3_prefix, **MULTIPART)
    rt = open_runtime(Settings.model_validate({**settings.model_dump(), "blobs": blobs}))
    try:
        call_pk = ingest.ingest(rt, call_id="long", source=str(recording)).call_pk
        tracemalloc.start()
        try:
            fetch.run(rt, call_pk, local_files=True)
            _, stored_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            digest = hashlib.sha256()
            context = calls.audio_context(call_pk)
            with rt.keyring.open_blob(rt.blobs.open(calls.audio_blob_key(call_pk)), context=context) as plain:
                for chunk in chunks_of(plain):
                    digest.update(chunk)
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            assert call.audio_bytes == size and call.audio_sha256 == digest.hexdigest()
            assert call.duration_s is not None and call.duration_s > 30 * 60
        stored = s3_server.shared_client.head_object(Bucket=s3_bucket, Key=s3_prefix + call.audio_blob)
        parts = int(stored["ETag"].strip('"').rpartition("-")[2])
        assert size // (6 * MIB) <= parts <= size // (5 * MIB) + 1  # 5 MiB parts (or a segment more)
        # a part on its way, the next one gathering (5 MiB each), chunks and segments: not the recording
        assert stored_peak < 20 * MIB, f"fetching and storing peaked at {stored_peak / MIB:.1f} MiB"
        assert read_peak < 8 * MIB, f"reading back peaked at {read_peak / MIB:.1f} MiB"
    finally:
        rt.db.close()
