"""Key rotation on a real PostgreSQL: every call's data key re-wrapped and nothing else rewritten, calls at
every stage still readable, fetchable and deliverable after the old key is retired, what a ring key sealed
directly (before envelope encryption) converted to data keys in batches, retirement refused while anything
is left under an old key, and the recording rewritten only under the call's row lock, by rotation as by the
fetch stage. Recordings live in the in-memory blob store; CRMs are the loopback stand-ins of
``tests/crm_fakes.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import LargeBinary, event, select, text

from callsense.backends.blobstore import BlobStore, MemoryBlobStore
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls import users as _users  # noqa: F401  (the dashboard's tables are part of the schema)
from callsense.calls.models import Base, Call, Delivery
from callsense.calls.schemas import CallStatus
from callsense.config import Settings
from callsense.config.fetch import FetchSettings
from callsense.crypto import KeyRing
from callsense.errors import ConfigError, NotFoundError
from callsense.pipeline import deliver, fetch, ingest, inline
from callsense.runtime import Runtime, open_runtime
from callsense.security import rotation
from tests.blobs import opened, read_blob
from tests.conftest import AUDIO, source_of, status_of
from tests.crm_calls import TRANSCRIPT, analysed_call
from tests.crm_fakes import FakeHubSpot, serving

PHONE = "+14155550100"
RECORDING = AUDIO / "en_short.mono.flac"


@pytest.fixture
def crm() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot({"501": PHONE})
    with serving(fake) as url:
        yield fake, url


def _open(settings: Settings, blobs: BlobStore) -> Runtime:
    return dataclasses.replace(open_runtime(settings), blobs=blobs)


@pytest.fixture
def configured(settings: Settings, crm: tuple[FakeHubSpot, str]) -> Settings:
    hubspot = {"name": "hubspot", "kind": "hubspot", "base_url": crm[1], "token": "pat-hubspot"}
    fetch = FetchSettings(allow_networks=["127.0.0.0/8"])
    greeting = {"name": "Greeting", "rule": {"said": "thanks for calling"}}  # its evidence is encrypted too
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "deliveries": {"destinations": [hubspot]},
            "fetch": fetch.model_dump(),
            "categories": [greeting],
        }
    )


@pytest.fixture
def rt(configured: Settings) -> Iterator[Runtime]:
    runtime = _open(configured, MemoryBlobStore())
    yield runtime
    runtime.db.close()


def _ciphertexts(rt: Runtime) -> dict[str, list[bytes]]:
    """Every value of every binary column of every table, by ``table.column``: walked here from the schema,
    independently of rotation's own list."""
    found: dict[str, list[bytes]] = {}
    with rt.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, LargeBinary):
                    values = session.scalars(select(column).where(column.is_not(None))).all()
                    found[f"{table.name}.{column.name}"] = list(values)
    return found


def _key_ids(rt: Runtime) -> set[str | None]:
    """Ring key ids of everything stored: database values (wrapped data keys included) and recordings; None
    stands for what a call's data key seals."""
    values = [value for column in _ciphertexts(rt).values() for value in column]
    with rt.db.transaction() as session:
        blob_keys = [
            key for row in session.execute(select(Call.audio_blob, Call.redacted_audio_blob)) for key in row
        ]
    values += [read_blob(rt.blobs, key) for key in blob_keys if key is not None]
    return {rt.keyring.key_id_of(value) for value in values}


def _ingest(rt: Runtime, call_id: str, source: str = str(RECORDING)) -> uuid.UUID:
    details = calls.CallDetails(customer_number=PHONE, metadata={"queue": "billing"})
    return ingest.ingest(rt, call_id=call_id, source=source, details=details).call_pk


def _fetched(rt: Runtime, call_id: str) -> uuid.UUID:
    call_pk = _ingest(rt, call_id)
    fetch.run(rt, call_pk, source=source_of(rt, call_pk))
    return call_pk


def _calls_at_every_stage(rt: Runtime) -> dict[str, uuid.UUID]:
    stages = {"received": _ingest(rt, "received"), "fetched": _fetched(rt, "fetched")}
    translated = stages["transcribed"] = _fetched(rt, "transcribed")
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=translated)
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=TRANSCRIPT,
            translated="Thanks for calling, how can I help?",
            translation_engine="whisper",
            asr_model="test",
            options={},
            original_segments=TRANSCRIPT,  # redaction's originals: as the redacted view here, as ciphertexts
            original_translation="Thanks for calling, how can I help?",
        )
        redacted_key = calls.redacted_audio_blob_key(translated)
        rt.blobs.put(
            redacted_key, [rt.keyring.encrypt(b"redacted", context=calls.redacted_audio_context(call.id))]
        )
        call.redacted_audio_blob = redacted_key
        calls.set_status(session=session, call=call, status=CallStatus.transcribed)
    stages["done"] = analysed_call(rt, "done", number=PHONE, metadata={"queue": "billing"})
    return stages


def test_rotation_covers_every_binary_column_of_the_models_and_of_the_database(rt: Runtime) -> None:
    covered = {(item.column.table.name, item.column.name) for item in rotation.encrypted_columns()}
    in_models = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_enc") or isinstance(column.type, LargeBinary)
    }
    assert in_models <= covered | {("call_keys", "wrapped")}  # data keys: re-wrapped by rotation
    for item in rotation.encrypted_columns():
        assert item.column.info.get("context_field"), f"{item.column} declares no context field"
    with rt.db.transaction() as session:  # the migrated schema, in case a migration adds what no model has
        in_database = set(
            session.execute(
                text(
                    "select table_name, column_name from information_schema.columns "
                    "where table_schema = 'public' and data_type = 'bytea' "
                    "and table_name not like 'procrastinate%'"
                )
            )
        )
    assert in_database <= covered | {("call_keys", "wrapped")}


def test_calls_at_every_stage_survive_rotate_and_retire(
    configured: Settings, rt: Runtime, crm: tuple[FakeHubSpot, str]
) -> None:
    stages = _calls_at_every_stage(rt)
    before = {name: inline.record(rt, call_pk) for name, call_pk in stages.items()}
    old_key = rt.keyring.active_key_id
    stored = _ciphertexts(rt)
    empty = [column for column, values in stored.items() if not values]
    assert empty == [], f"the calls made here leave {empty} empty: store something in them too"
    assert _key_ids(rt) == {old_key, None}  # data keys wrapped by the ring key, all else under data keys
    recorded = [stages["fetched"], stages["transcribed"]]  # the analysed call came without a recording
    recordings = {call_pk: read_blob(rt.blobs, calls.audio_blob_key(call_pk)) for call_pk in recorded}

    report = rotation.rotate(rt, retire_old=True)
    assert report.retired == {old_key}
    assert report.data_keys == len(stages)
    assert (report.calls, report.rows, report.blobs) == (0, 0, 0)  # new calls: nothing to look at
    assert _key_ids(rt) == {report.new_key, None}
    # only the wrapped data keys changed: every ciphertext, in the database and the blob store, is as it was
    after = _ciphertexts(rt)
    assert {column: values for column, values in after.items() if column != "call_keys.wrapped"} == {
        column: values for column, values in stored.items() if column != "call_keys.wrapped"
    }
    assert {call_pk: read_blob(rt.blobs, calls.audio_blob_key(call_pk)) for call_pk in recorded} == recordings

    # a restart: a process that loads the key file now holds the new key only
    restarted = _open(configured, rt.blobs)
    try:
        assert restarted.keyring.key_ids == {report.new_key}
        for name, call_pk in stages.items():
            assert inline.record(restarted, call_pk) == before[name]
        fetch.run(restarted, stages["received"], source=source_of(restarted, stages["received"]))
        assert status_of(restarted, stages["received"]) is CallStatus.fetched
        with restarted.db.transaction() as session:
            pending = deliveries.pending_ids(session=session, call_pk=stages["done"])
        assert len(pending) == 1
        deliver.run(restarted, pending[0])
        with restarted.db.transaction() as session:
            delivery = session.get(Delivery, pending[0])
            assert delivery is not None and delivery.status == "delivered", delivery and delivery.last_error
        fake, _ = crm
        assert len(fake.records) == 1  # logged against the contact found by the decrypted customer number
    finally:
        restarted.db.close()


def test_rotation_converts_what_a_ring_key_sealed_in_batches_of_calls(rt: Runtime) -> None:
    legacy = _stale_writer(rt)  # a ring without data keys writes as callsense did before envelope encryption
    for index in range(5):
        _ingest(legacy, f"batch-{index}")
    assert _key_ids(rt) == {rt.keyring.active_key_id}
    commits: list[None] = []
    event.listen(rt.db.engine, "commit", lambda _connection: commits.append(None))
    report = rotation.rotate(rt, retire_old=True, batch_calls=2)
    assert report.rows == 5 * 3  # source, customer number, metadata
    assert _key_ids(rt) == {report.new_key, None}
    assert len(commits) >= 3  # three batches of at most two calls, each its own transaction


def _stale_writer(rt: Runtime) -> Runtime:
    """A process that loaded the ring before the rotation and never looks at the key file again, with no
    data keys: it seals everything under its ring key, as callsense did before envelope encryption."""
    doc = json.loads(rt.settings.resolved_key_file.read_text())
    keys = {key_id: base64.b64decode(value) for key_id, value in doc["keys"].items()}
    return dataclasses.replace(rt, keyring=KeyRing(keys, doc["active"]))


def test_retiring_is_refused_while_anything_is_left_under_an_old_key(rt: Runtime) -> None:
    stale = _stale_writer(rt)
    old_key = rt.keyring.active_key_id
    rotation.rotate(rt, retire_old=False)
    late = _fetched(stale, "late")  # source, customer number, metadata and the recording under the old key

    with pytest.raises(ConfigError, match="0 data keys, 3 database values and 1 recordings") as refused:
        rotation.retire_old_keys(rt)
    assert old_key in str(refused.value)
    assert old_key in rt.keyring.key_ids
    assert old_key in json.loads(rt.settings.resolved_key_file.read_text())["keys"]

    report = rotation.rotate(rt, retire_old=True)  # running it again picks the stragglers up
    assert old_key in report.retired
    assert _key_ids(rt) == {report.new_key, None}
    assert source_of(rt, late) == str(RECORDING)


def _waiting_on_a_lock(rt: Runtime, worker: threading.Thread) -> bool:
    """Wait until a backend of this database is blocked on a row lock; False if ``worker`` ends first."""
    deadline = time.monotonic() + 60
    with rt.db.engine.connect() as connection:
        while worker.is_alive() and time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "select count(*) from pg_stat_activity "
                    "where datname = current_database() and wait_event_type = 'Lock'"
                )
            ).scalar_one()
            connection.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, errors


def test_rotation_rewrites_a_recording_only_under_the_calls_row_lock(rt: Runtime) -> None:
    call_pk = _fetched(_stale_writer(rt), "locked")  # its recording sealed by the ring key: to convert
    blob = calls.audio_blob_key(call_pk)
    old_key = rt.keyring.active_key_id
    with rt.db.transaction() as session:
        calls.lock(session=session, call_pk=call_pk)  # as a stage writing this call holds it
        worker, errors = _in_thread(lambda: rotation.rotate(rt, retire_old=False))
        assert _waiting_on_a_lock(rt, worker), "rotation finished without waiting for the call's lock"
        assert rt.keyring.key_id_of(read_blob(rt.blobs, blob)) == old_key
    worker.join(60)
    assert not worker.is_alive() and errors == []
    assert rt.keyring.key_id_of(read_blob(rt.blobs, blob)) is None  # now under the call's data key
    plain = opened(rt.keyring, read_blob(rt.blobs, blob), context=calls.audio_context(call_pk))
    assert plain == RECORDING.read_bytes()


def test_fetch_stores_its_recording_under_the_calls_row_lock(rt: Runtime) -> None:
    requested, release = threading.Event(), threading.Event()

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.set()
            release.wait(60)  # the download is under way: the fetch stage has started
            body = RECORDING.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "audio/flac")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = f"http://127.0.0.1:{server.server_address[1]}/call.flac"
        call_pk = _ingest(rt, "fetching", source=source)
        blob = calls.audio_blob_key(call_pk)
        worker, errors = _in_thread(lambda: fetch.run(rt, call_pk, source=source, local_files=False))
        assert requested.wait(60)
        with rt.db.transaction() as session:
            calls.lock(session=session, call_pk=call_pk)  # as rotation's batch holds it
            release.set()
            assert _waiting_on_a_lock(rt, worker), "the fetch finished without waiting for the call's lock"
            # the fetch must not write the recording without the call's lock
            with pytest.raises(NotFoundError):
                read_blob(rt.blobs, blob)
        worker.join(60)
        assert not worker.is_alive() and errors == []
        assert status_of(rt, call_pk) is CallStatus.fetched
        stored = opened(rt.keyring, read_blob(rt.blobs, blob), context=calls.audio_context(call_pk))
        assert stored == RECORDING.read_bytes()
    finally:
        server.shutdown()
        server.server_close()


def test_a_second_rotation_is_refused_while_one_runs(rt: Runtime) -> None:
    call_pk = _fetched(_stale_writer(rt), "busy")  # sealed by the ring key: the rotation converts it
    with rt.db.transaction() as session:
        calls.lock(session=session, call_pk=call_pk)  # keeps the first rotation at its first batch
        first, errors = _in_thread(lambda: rotation.rotate(rt, retire_old=True))
        assert _waiting_on_a_lock(rt, first)
        second = _open(rt.settings, rt.blobs)
        try:
            keys = second.keyring.key_ids
            with pytest.raises(ConfigError, match="another key rotation is running"):
                rotation.rotate(second, retire_old=True)
            assert second.keyring.key_ids == keys  # refused before it made a key
        finally:
            second.db.close()
    first.join(60)
    assert not first.is_alive() and errors == []
    assert _key_ids(rt) == {rt.keyring.active_key_id, None}
