"""Envelope encryption on a real PostgreSQL: each call's columns and recording sealed under its own data key,
two workers agreeing on a new call's key, what a ring key sealed before converted in place (also by the
real CLI), and a destroyed data key making every copy of the call's ciphertexts unreadable: a column value
read back from a `callsense backup` archive's pg_dump, the archive's copy of the recording."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from callsense import db
from callsense.backends.blobstore import BlobStore, MemoryBlobStore
from callsense.backup import archive, pgtools
from callsense.calls import datakeys
from callsense.calls import service as calls
from callsense.calls.models import Analysis, Call, CallKey, Transcript
from callsense.config import Settings
from callsense.crypto import DIRECT_VERSION
from callsense.errors import DataKeyDestroyedError
from callsense.pipeline import fetch, ingest, inline
from callsense.runtime import Runtime, open_runtime
from callsense.security import rotation
from tests.blobs import opened, read_blob
from tests.conftest import AUDIO, source_of
from tests.crm_calls import analysed_call, cli
from tests.integration.test_key_rotation import _stale_writer
from tests.integration.test_schema_upgrade import _load
from tests.schema_snapshot import CALLS, SNAPSHOTS

RECORDING = AUDIO / "en_short.mono.flac"


def _open(settings: Settings, blobs: BlobStore) -> Runtime:
    return dataclasses.replace(open_runtime(settings), blobs=blobs)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = _open(settings, MemoryBlobStore())
    yield runtime
    runtime.db.close()


def _fetched(rt: Runtime, call_id: str) -> uuid.UUID:
    details = calls.CallDetails(customer_number="+14155550100", metadata={"queue": "billing"})
    call_pk = ingest.ingest(rt, call_id=call_id, source=str(RECORDING), details=details).call_pk
    fetch.run(rt, call_pk, source=source_of(rt, call_pk))
    return call_pk


def _stored(rt: Runtime, call_pk: uuid.UUID, *, audio: bool = True) -> dict[str, bytes]:
    """The call's ciphertexts as a dump holds them: its encrypted columns and (``audio``) its recording."""
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        found = {
            "source": call.source_enc,
            "customer_number": call.customer_number_enc,
            "metadata": call.metadata_enc,
            "segments": session.scalar(select(Transcript.segments_enc).where(Transcript.call_pk == call_pk)),
            "analysis": session.scalar(select(Analysis.result_enc).where(Analysis.call_pk == call_pk)),
        }
        if audio and call.audio_blob is not None:
            found["audio"] = read_blob(rt.blobs, call.audio_blob)
    return {name: value for name, value in found.items() if value is not None}


def _context(call_pk: uuid.UUID, name: str) -> str:
    return calls.context(call_pk, name)


def test_a_calls_columns_and_recording_are_sealed_under_its_own_data_key(rt: Runtime) -> None:
    first, second = _fetched(rt, "first"), analysed_call(rt, "second")
    for call_pk in (first, second):
        for name, value in _stored(rt, call_pk).items():
            assert rt.keyring.key_id_of(value) is None, f"{name} is sealed by a ring key, not the data key"
            assert opened(rt.keyring, value, context=_context(call_pk, name))
    assert opened(rt.keyring, _stored(rt, first)["audio"], context=_context(first, "audio")) == (
        RECORDING.read_bytes()
    )
    record = inline.record(rt, second)
    assert record.summary and record.transcript
    store = datakeys.DataKeyStore(rt.db, rt.keyring)
    assert store.key_for(first, create=False) != store.key_for(second, create=False)
    with rt.db.transaction() as session:
        wrapped = session.scalars(select(CallKey.key_id)).all()
    assert wrapped == [rt.keyring.active_key_id] * 2  # wrapped by the ring's active key
    assert rotation.migrate_envelope(rt).calls == 0  # new calls are never looked at by the migration


def test_a_cached_data_key_is_read_from_the_database_once(rt: Runtime) -> None:
    call_pk = _fetched(rt, "cached")
    store = datakeys.DataKeyStore(rt.db, rt.keyring)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(Engine, "before_cursor_execute", count)  # the store's own connections included
    try:
        key = store.key_for(call_pk, create=False)
        read_once = len(statements)
        assert read_once >= 1
        assert store.key_for(call_pk, create=False) == key
        assert len(statements) == read_once
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def test_two_workers_making_a_new_calls_data_key_at_once_agree(rt: Runtime) -> None:
    workers = [datakeys.DataKeyStore(rt.db, rt.keyring) for _ in range(2)]  # two processes' caches
    for _ in range(10):
        call_pk = uuid.uuid4()
        start = threading.Barrier(2)
        keys: list[bytes] = []

        def first_use(
            store: datakeys.DataKeyStore, call_pk: uuid.UUID, start: threading.Barrier, keys: list[bytes]
        ) -> None:
            start.wait(10)
            keys.append(store.key_for(call_pk, create=True))

        threads = [
            threading.Thread(target=first_use, args=(store, call_pk, start, keys)) for store in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(keys) == 2 and keys[0] == keys[1]
        with rt.db.transaction() as session:
            assert len(session.scalars(select(CallKey).where(CallKey.call_pk == call_pk)).all()) == 1


def test_what_a_ring_key_sealed_still_opens_and_is_converted_in_place(
    settings: Settings, rt: Runtime
) -> None:
    legacy = _stale_writer(rt)
    old = [_fetched(legacy, "old-fetched"), analysed_call(legacy, "old-analysed")]
    before = {call_pk: inline.record(rt, call_pk) for call_pk in old}  # read through the data-key ring
    for call_pk in old:
        assert {rt.keyring.key_id_of(value) for value in _stored(rt, call_pk).values()} == {
            rt.keyring.active_key_id
        }
    seen: list[tuple[int, int]] = []
    report = rotation.migrate_envelope(
        rt, batch_calls=1, progress=lambda done, total: seen.append((done, total))
    )
    assert report.new_key is None and report.calls == 2
    # source, number, metadata; the analysed one's source, number, segments, analysis as shown and as said
    assert report.rows == 3 + 5
    assert report.blobs == 1
    assert seen == [(1, 2), (2, 2)]
    restarted = _open(settings, rt.blobs)
    try:
        for call_pk in old:
            assert {restarted.keyring.key_id_of(value) for value in _stored(restarted, call_pk).values()} == {
                None
            }
            assert inline.record(restarted, call_pk) == before[call_pk]
    finally:
        restarted.db.close()
    again = rotation.migrate_envelope(rt)  # resumable: nothing left, and no recording read again
    assert (again.calls, again.rows, again.blobs) == (0, 0, 0)


def test_a_recording_sealed_whole_by_a_ring_key_is_converted_to_segments(rt: Runtime) -> None:
    legacy = _stale_writer(rt)
    call_pk = _fetched(legacy, "sealed-whole")
    key, context = calls.audio_blob_key(call_pk), _context(call_pk, "audio")
    whole = legacy.keyring.encrypt(RECORDING.read_bytes(), context=context)  # as written before segments
    assert whole[:1] == DIRECT_VERSION
    rt.blobs.put(key, [whole])
    assert opened(rt.keyring, read_blob(rt.blobs, key), context=context) == RECORDING.read_bytes()
    report = rotation.migrate_envelope(rt)
    assert report.calls == 1 and report.blobs == 1
    stored = read_blob(rt.blobs, key)
    assert stored[:1] == bytes([3]) and rt.keyring.key_id_of(stored) is None  # segments, the data key
    assert opened(rt.keyring, stored, context=context) == RECORDING.read_bytes()


def test_destroying_a_data_key_makes_every_copy_of_the_call_unreadable(
    settings: Settings, rt: Runtime
) -> None:
    erased, kept = _fetched(rt, "erased"), _fetched(rt, "kept")
    copies = _stored(rt, erased)  # a database dump's values and a blob-store backup's recording
    assert set(copies) == {"source", "customer_number", "metadata", "audio"}
    with rt.db.transaction() as session:
        datakeys.destroy_data_key(session, erased)
    for name, value in copies.items():
        with pytest.raises(DataKeyDestroyedError, match=f"data key of call {erased} was destroyed"):
            opened(rt.keyring, value, context=_context(erased, name))
    with pytest.raises(DataKeyDestroyedError):  # nothing new is sealed for it either
        rt.keyring.encrypt(b"late", context=_context(erased, "segments"))
    restarted = _open(settings, rt.blobs)  # another process, with no key in its cache
    try:
        with pytest.raises(DataKeyDestroyedError):
            opened(restarted.keyring, copies["audio"], context=_context(erased, "audio"))
        assert source_of(restarted, kept) == str(RECORDING)  # the other calls are untouched
        report = rotation.rotate(
            restarted, retire_old=True
        )  # a destroyed key is neither re-wrapped nor a stop
        assert report.data_keys == 1 and report.calls == 0  # the kept call's key; no call to migrate
    finally:
        restarted.db.close()
    with rt.db.transaction() as session:  # idempotent
        datakeys.destroy_data_key(session, erased)
        row = session.get(CallKey, erased)
        assert row is not None and row.wrapped is None and row.destroyed_at is not None


def test_the_keys_commands_migrate_and_rotate(settings: Settings) -> None:
    legacy = _stale_writer(open_runtime(settings))  # recordings in the filesystem blob store, as configured
    try:
        call_pk = _fetched(legacy, "before-envelope")
        before = inline.record(legacy, call_pk)
    finally:
        legacy.db.close()
    migrated = cli(settings, "keys", "migrate-envelope")
    assert migrated.returncode == 0, migrated.stderr
    assert "checked 1 calls: moved 3 database values and 1 recordings" in migrated.stdout
    rotated = cli(settings, "keys", "rotate", "--retire-old")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-wrapped 1 data keys" in rotated.stdout and "retired keys" in rotated.stdout
    assert "moved 0 database values and 0 recordings" in rotated.stdout
    help_text = cli(settings, "keys", "--help").stdout
    assert "migrate-envelope" in help_text and "rotate" in help_text
    after = open_runtime(settings)
    try:
        assert inline.record(after, call_pk) == before
        assert {after.keyring.key_id_of(value) for value in _stored(after, call_pk).values()} == {None}
    finally:
        after.db.close()


def _dumped_value(dump: Path, pg_restore: Path, table: str, call_pk: uuid.UUID, column: str) -> bytes:
    """A value as the backup's database dump holds it: its table's COPY data, read by pg_restore."""
    data = subprocess.run(
        [str(pg_restore), "--data-only", f"--table={table}", "--file=-", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = data.splitlines()
    header = next(line for line in lines if line.startswith(f"COPY public.{table} "))
    names = [name.strip() for name in header[header.index("(") + 1 : header.index(")")].split(",")]
    row = next(line.split("\t") for line in lines if line.startswith(str(call_pk)))
    return bytes.fromhex(row[names.index(column)].removeprefix("\\\\x"))


def test_erasure_reaches_a_backups_recording_and_dumped_values(settings: Settings, tmp_path: Path) -> None:
    rt = open_runtime(settings)  # the filesystem blob store a backup copies
    try:
        erased, kept = _fetched(rt, "erased"), _fetched(rt, "kept")
        backup = tmp_path / "backup"
        archive.create(
            settings,
            backup,
            keys=archive.KeyExport(passphrase="correct horse battery staple"),
            progress=archive.Silent(),
        )
        pg_restore = pgtools.find("pg_restore", server=pgtools.server_major(rt.db.engine)).path
        dumped = _dumped_value(backup / archive.DUMP, pg_restore, "calls", erased, "source_enc")
        copied = (backup / archive.BLOBS / calls.audio_blob_key(erased)).read_bytes()
        assert rt.keyring.decrypt_text(dumped, context=_context(erased, "source")) == str(RECORDING)
        assert opened(rt.keyring, copied, context=_context(erased, "audio")) == RECORDING.read_bytes()

        with rt.db.transaction() as session:
            datakeys.destroy_data_key(session, erased)

        for value, name in ((dumped, "source"), (copied, "audio")):
            with pytest.raises(DataKeyDestroyedError):
                opened(rt.keyring, value, context=_context(erased, name))
        kept_copy = (backup / archive.BLOBS / calls.audio_blob_key(kept)).read_bytes()
        assert opened(rt.keyring, kept_copy, context=_context(kept, "audio")) == RECORDING.read_bytes()
    finally:
        rt.db.close()


def test_calls_of_a_released_schema_are_marked_by_the_upgrade_and_migrated(
    settings: Settings, empty_database_url: str
) -> None:
    # calls sealed by the ring key of then, loaded into a database without a schema
    settings = _load(SNAPSHOTS / "0005.sql", settings.model_copy(update={"database_url": empty_database_url}))
    database = db.open_database(settings, check=False)
    db.upgrade(database.engine, stalled_after_s=settings.queue.stalled_after_s)
    database.close()
    rt = open_runtime(settings)
    try:
        with rt.db.transaction() as session:
            marks = session.execute(select(CallKey.wrapped, CallKey.destroyed_at, CallKey.enveloped_at)).all()
            old = list(session.scalars(select(Call.id)))
        assert [tuple(mark) for mark in marks] == [(None, None, None)] * len(CALLS)
        before = {call_pk: inline.record(rt, call_pk) for call_pk in old}  # they read as they are
        report = rotation.migrate_envelope(rt)
        assert report.calls == len(CALLS) and report.rows == 3 * len(CALLS)  # source, segments, analysis
        assert report.missing_blobs == len(CALLS)  # the snapshot keeps no recordings
        for call_pk in old:
            assert inline.record(rt, call_pk) == before[call_pk]
            sealed = _stored(rt, call_pk, audio=False).values()
            assert {rt.keyring.key_id_of(value) for value in sealed} == {None}
        assert rotation.migrate_envelope(rt).calls == 0
    finally:
        rt.db.close()
