"""Recordings sealed whole under their call's data key (version 2, as callsense wrote them before segments),
original and redacted, in the filesystem blob store on a real PostgreSQL: the schema upgrade marks their
calls, ``keys migrate-envelope`` seals them again in segments in place (also by the real CLI), a second run
changes nothing, a run cut off mid-way leaves every recording readable (there and on S3, SeaweedFS, with a
multipart upload under way), and playback and transcription read the result."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterable, Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select

from callsense import db, streamcipher
from callsense.backends.blobstore.s3 import S3BlobStore
from callsense.calls import access
from callsense.calls import service as calls
from callsense.calls.models import Call, CallKey
from callsense.config import Settings
from callsense.config.blobs import MIB, BlobSettings
from callsense.runtime import Runtime, open_runtime
from callsense.security import rotation
from callsense.speech.audio import decode
from tests.blobs import opened, read_blob
from tests.crm_calls import cli
from tests.integration.test_envelope import RECORDING, _fetched
from tests.s3server import SeaweedS3

# Seven segments: the rewrite and the player's ranges cross segment boundaries, and a rewrite cut off after
# six chunks (the header and five segments) has started a multipart upload of 5 MiB parts on S3.
REDACTED = os.urandom(6 * streamcipher.SEGMENT_BYTES + 12345)
CUT_AT_CHUNK = 6
S3_PARTS = {"multipart_threshold_bytes": 5 * MIB, "multipart_part_bytes": 5 * MIB, "max_concurrency": 1}
WHOLE_VERSION = 2  # sealed whole under the call's data key


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)  # the filesystem blob store, as configured
    yield runtime
    runtime.db.close()


def _recordings(rt: Runtime, call_pk: uuid.UUID) -> dict[str, tuple[str, str]]:
    """The call's recordings: blob key and context, by what they are."""
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        found = {
            "audio": (call.audio_blob, calls.audio_context(call_pk)),
            "redacted": (call.redacted_audio_blob, calls.redacted_audio_context(call_pk)),
        }
    return {name: (key, context) for name, (key, context) in found.items() if key is not None}


def _sealed_whole(rt: Runtime, call_id: str) -> uuid.UUID:
    """A call whose original and redacted recordings are sealed whole by its data key (``KeyRing.encrypt``),
    as the fetch and redaction stages stored them before segments."""
    call_pk = _fetched(rt, call_id)
    audio_key, redacted_key = calls.audio_blob_key(call_pk), calls.redacted_audio_blob_key(call_pk)
    plain = {audio_key: RECORDING.read_bytes(), redacted_key: REDACTED}
    contexts = {audio_key: calls.audio_context(call_pk), redacted_key: calls.redacted_audio_context(call_pk)}
    for key, plaintext in plain.items():
        rt.blobs.put(key, [rt.keyring.encrypt(plaintext, context=contexts[key])])
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        call.redacted_audio_blob = redacted_key
    return call_pk


def _upgraded_from_0012(settings: Settings) -> None:
    """The database taken back to schema 0012 (before segments) and upgraded again, as a release does."""
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    database = db.open_database(settings, check=False)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
    database.close()
    database = db.open_database(settings, check=False)
    db.upgrade(database.engine, stalled_after_s=settings.queue.stalled_after_s)
    database.close()


def _versions(rt: Runtime, call_pks: Iterable[uuid.UUID]) -> dict[str, int]:
    return {
        key: read_blob(rt.blobs, key)[0]
        for call_pk in call_pks
        for key, _ in _recordings(rt, call_pk).values()
    }


def _plaintexts(rt: Runtime, call_pk: uuid.UUID) -> dict[str, bytes]:
    return {
        name: opened(rt.keyring, read_blob(rt.blobs, key), context=context)
        for name, (key, context) in _recordings(rt, call_pk).items()
    }


def test_recordings_sealed_whole_are_sealed_again_in_segments(settings: Settings, rt: Runtime) -> None:
    old = [_sealed_whole(rt, "whole-1"), _sealed_whole(rt, "whole-2")]
    current = _fetched(rt, "in-segments")  # written in segments already: read, not rewritten
    current_blob = read_blob(rt.blobs, calls.audio_blob_key(current))
    _upgraded_from_0012(settings)
    with rt.db.transaction() as session:
        assert session.scalars(select(CallKey.enveloped_at)).all() == [None] * 3  # all have recordings
    assert set(_versions(rt, old).values()) == {WHOLE_VERSION}

    seen: list[tuple[int, int]] = []
    report = rotation.migrate_envelope(
        rt, batch_calls=1, progress=lambda done, total: seen.append((done, total))
    )
    assert (report.calls, report.rows, report.blobs, report.segmented) == (3, 0, 0, 4)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert set(_versions(rt, [*old, current]).values()) == {streamcipher.VERSION}
    for call_pk in old:
        for key, _ in _recordings(rt, call_pk).values():
            assert rt.keyring.key_id_of(read_blob(rt.blobs, key)) is None  # still the call's data key
        assert _plaintexts(rt, call_pk) == {"audio": RECORDING.read_bytes(), "redacted": REDACTED}
    assert read_blob(rt.blobs, calls.audio_blob_key(current)) == current_blob

    stored = {key: read_blob(rt.blobs, key) for key in _versions(rt, [*old, current])}
    again = rotation.migrate_envelope(rt)
    assert (again.calls, again.rows, again.blobs, again.segmented) == (0, 0, 0, 0)
    assert {key: read_blob(rt.blobs, key) for key in stored} == stored

    # the read paths: the player (a range across a segment boundary) and transcription's decoder
    start = streamcipher.SEGMENT_BYTES - 10
    with rt.db.transaction() as session:
        played = access.play_recording(
            session=session,
            keyring=rt.keyring,
            blobs=rt.blobs,
            call_id="whole-1",
            range_header=f"bytes={start}-{start + 99}",
            actor="test",
            via="test",
        )
        assert b"".join(played.content()) == REDACTED[start : start + 100]
    audio_key, audio_context = _recordings(rt, old[0])["audio"]
    with rt.keyring.open_blob(rt.blobs.open(audio_key), context=audio_context) as recording:
        assert decode(recording, max_seconds=600).duration > 1


class _CutOff(Exception):
    pass


@pytest.fixture(params=["filesystem", "s3"])
def any_store(request: pytest.FixtureRequest, settings: Settings, rt: Runtime) -> Runtime:
    """The runtime with the filesystem blob store, or with an S3 one on SeaweedFS."""
    if request.param == "filesystem":
        return rt
    server: SeaweedS3 = request.getfixturevalue("s3_server")
    blobs = {
        **server.settings(request.getfixturevalue("s3_bucket"), **S3_PARTS),
        "prefix": f"t-{uuid.uuid4().hex}/",
    }
    return dataclasses.replace(rt, blobs=S3BlobStore.from_settings(BlobSettings(**blobs)))


def test_a_migration_cut_off_mid_recording_leaves_it_readable_and_is_finished_by_the_next(
    settings: Settings, any_store: Runtime
) -> None:
    rt = any_store
    call_pk = _sealed_whole(rt, "cut-off")
    _upgraded_from_0012(settings)
    real_put = rt.blobs.put
    puts: list[str] = []

    def put_dying_mid_blob(key: str, chunks: Iterable[bytes]) -> None:
        def first_segment_then_crash() -> Iterator[bytes]:
            for index, chunk in enumerate(chunks):
                if index == CUT_AT_CHUNK:  # part of the new version written, then the process dies
                    raise _CutOff
                yield chunk

        puts.append(key)
        real_put(key, first_segment_then_crash())

    rt.blobs.put = put_dying_mid_blob  # type: ignore[method-assign]
    with pytest.raises(_CutOff):
        rotation.migrate_envelope(rt)
    rt.blobs.put = real_put  # type: ignore[method-assign]
    audio, redacted = calls.audio_blob_key(call_pk), calls.redacted_audio_blob_key(call_pk)
    assert puts == [audio, redacted]  # the original (one segment) done, the redacted copy cut off
    assert _versions(rt, [call_pk]) == {audio: streamcipher.VERSION, redacted: WHOLE_VERSION}
    assert _plaintexts(rt, call_pk) == {"audio": RECORDING.read_bytes(), "redacted": REDACTED}

    report = rotation.migrate_envelope(rt)
    assert (report.calls, report.segmented) == (1, 1)
    assert set(_versions(rt, [call_pk]).values()) == {streamcipher.VERSION}
    assert _plaintexts(rt, call_pk) == {"audio": RECORDING.read_bytes(), "redacted": REDACTED}


def test_the_migrate_envelope_command_seals_whole_recordings_in_segments(settings: Settings) -> None:
    rt = open_runtime(settings)
    try:
        call_pk = _sealed_whole(rt, "by-the-cli")
    finally:
        rt.db.close()
    _upgraded_from_0012(settings)
    migrated = cli(settings, "keys", "migrate-envelope")
    assert migrated.returncode == 0, migrated.stderr
    assert "checked 1 calls: moved 0 database values and 0 recordings under their call's data key; " in (
        migrated.stdout
    )
    assert "sealed 2 more recordings in segments" in migrated.stdout
    assert "checked 0 calls" in cli(settings, "keys", "migrate-envelope").stdout
    help_text = " ".join(cli(settings, "keys", "migrate-envelope", "--help").stdout.replace("│", " ").split())
    assert "sealed whole" in help_text and "segments" in help_text
    after = open_runtime(settings)
    try:
        assert set(_versions(after, [call_pk]).values()) == {streamcipher.VERSION}
        assert _plaintexts(after, call_pk) == {"audio": RECORDING.read_bytes(), "redacted": REDACTED}
    finally:
        after.db.close()
