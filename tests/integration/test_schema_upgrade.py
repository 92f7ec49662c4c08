"""Upgrades: a database saved at each released schema revision (tests/schema_snapshot.py) is brought to the
newest by ``db.upgrade`` and read back through the real code; a process refuses a schema it does not know.
The snapshots hold the database only (no recordings), so the reading stops short of the audio."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text
from structlog.testing import capture_logs

from callsense import db
from callsense.backup import pgtools
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.config import Settings
from callsense.config.queue import QueueSettings
from callsense.errors import SchemaVersionError
from callsense.pipeline import tasks, workers
from callsense.runtime import open_runtime
from callsense.security import tokens
from callsense.web import accounts
from tests.crm_calls import cli_env
from tests.schema_snapshot import CALLS, PASSWORD, SNAPSHOTS, TOKEN_NAME, USER
from tests.servers import CALLSENSE, callsense_serve


def _load(snapshot: Path, settings: Settings) -> Settings:
    """The snapshot's SQL loaded into the empty test database; the settings with its key ring."""
    url = make_url(str(settings.database_url))
    engine = db.open_database(settings, check=False).engine
    psql = pgtools.find("psql", server=pgtools.server_major(engine))
    engine.dispose()
    pgtools.run(psql, ["--quiet", "--set=ON_ERROR_STOP=1", f"--file={snapshot}"], url=url)
    key_file = settings.data_dir / "keys.json"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snapshot.with_suffix(".keys.json"), key_file)
    os.chmod(key_file, 0o600)
    return settings.model_copy(update={"key_file": key_file})


def _at_revision(settings: Settings, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    database = db.open_database(settings, check=False)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    database.close()


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Every test here brings its database to a schema of its own choosing: it starts without one."""
    return empty_database_url


# A heartbeat every half second: a serve's is seen, and seen to go on, in seconds.
FAST_HEARTBEAT = QueueSettings(heartbeat_s=0.5, stalled_after_s=2)
FAST_HEARTBEAT_ENV = {"CALLSENSE_QUEUE__HEARTBEAT_S": "0.5", "CALLSENSE_QUEUE__STALLED_AFTER_S": "2"}
SNAPSHOT_TOPIC = "Duplicate charge refund"  # tests/crm_calls.ANALYSIS's topic when the snapshots were taken


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLSENSE, *args], env=cli_env(settings), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS.glob("*.sql")), ids=lambda path: path.stem)
def test_a_database_at_a_released_schema_upgrades_and_reads_back(snapshot: Path, settings: Settings) -> None:
    settings = _load(snapshot, settings)
    database = db.open_database(settings, check=False)
    before = db.upgrade(database.engine, stalled_after_s=settings.queue.stalled_after_s)
    assert before.current == snapshot.stem and db.schema_status(database.engine).up_to_date
    database.close()

    rt = open_runtime(settings)  # the start-up check lets it run
    try:
        with rt.db.transaction() as session:
            for call_id, delivery_status in CALLS.items():
                call = calls.get(session=session, call_id=call_id)
                record = calls.to_record(call=call, keyring=rt.keyring)
                # written before the call-driver taxonomy: the free-text topic of then, kept as it was
                assert (record.status, record.topic) == ("done", SNAPSHOT_TOPIC)
                assert "charged twice" in record.transcript
                (delivery,) = deliveries.of_call(session=session, call_pk=call.id)
                assert delivery.status == delivery_status
            assert accounts.authenticate(session=session, username=USER, password=PASSWORD) is not None
            assert [token.name for token in tokens.all_tokens(session=session)] == [TOKEN_NAME]
    finally:
        rt.db.close()


def test_a_schema_newer_than_the_code_is_refused_at_start(settings: Settings) -> None:
    db.open_database(settings).close()  # an empty database is given the schema
    database = db.open_database(settings, check=False)
    with database.transaction() as session:
        session.execute(text("update alembic_version set version_num = '9999'"))
    with pytest.raises(SchemaVersionError, match="newer than this callsense"):
        db.upgrade(database.engine, stalled_after_s=settings.queue.stalled_after_s)  # never a downgrade
    head = db.schema_status(database.engine).head
    database.close()
    worker = _cli(settings, "worker")
    assert worker.returncode == 1
    assert worker.stderr.strip().splitlines() == [
        f"error: the database schema is at revision 9999, newer than this callsense {db.__version__} knows "
        f"(its newest is {head}): run the callsense version that upgraded it"
    ]


def test_an_older_schema_waits_for_db_upgrade(settings: Settings) -> None:
    _at_revision(settings, "0004")
    with pytest.raises(SchemaVersionError, match=r"is at revision 0004 .* run 'callsense db upgrade'"):
        db.open_database(settings)
    status = _cli(settings, "db", "status")
    assert status.returncode == 1 and "schema:    0004" in status.stdout
    upgraded = _cli(settings, "db", "upgrade")
    assert upgraded.returncode == 0 and "schema upgraded from 0004 to" in upgraded.stdout
    db.open_database(settings).close()


def test_the_embedded_server_is_upgraded_on_open_and_says_so(settings: Settings) -> None:
    _at_revision(settings, "0004")
    database = db.open_database(settings, check=False)
    with capture_logs() as logs:
        # what open_database does for the embedded server
        upgraded_from = db.check_schema(database.engine, upgrade_older=True, stalled_after_s=30)
    status = db.schema_status(database.engine)
    database.close()
    assert status.up_to_date and upgraded_from == "0004"  # which doctor reports
    assert {
        "event": "database schema upgraded",
        "was": "0004",
        "now": status.head,
        "log_level": "warning",
    } in logs


def _worker_heartbeat(settings: Settings, *, seconds_ago: float) -> None:
    """The queue's view of a worker of the version that made the schema: registered as a worker registers,
    then with its last heartbeat ``seconds_ago``."""
    database = db.open_database(settings, check=False)
    with database.transaction() as session:
        if not session.execute(text("select count(*) from procrastinate_workers")).scalar_one():
            session.execute(text("select procrastinate_register_worker_v1()"))
        session.execute(
            text("update procrastinate_workers set last_heartbeat = now() - make_interval(secs => :s)"),
            {"s": seconds_ago},
        )
    database.close()


def test_an_upgrade_waits_until_the_older_workers_are_stopped(settings: Settings) -> None:
    # An older worker left running would go on against the new schema and fail the new version's jobs
    # ("Task was not found": seen with the 2026-12-01 version's worker and a categories re-evaluation).
    _at_revision(settings, "0005")
    _worker_heartbeat(settings, seconds_ago=2)

    status = _cli(settings, "db", "status")
    assert status.returncode == 1 and "processes: 1 running on it ('serve' or 'worker'" in status.stdout
    upgraded = _cli(settings, "db", "upgrade")
    assert upgraded.returncode == 1
    assert " ".join(upgraded.stderr.split()).startswith(
        "error: 1 callsense process(es) ('serve' or 'worker') still run on this database at schema 0005 "
        "(a queue heartbeat within 30 s): stop every callsense process"
    ), upgraded.stderr
    database = db.open_database(settings, check=False)
    assert db.schema_status(database.engine).current == "0005"
    with pytest.raises(SchemaVersionError, match="still run on this database"):
        db.check_schema(
            database.engine, upgrade_older=True, stalled_after_s=30
        )  # nor does the embedded server's own upgrade
    database.close()

    _worker_heartbeat(settings, seconds_ago=settings.queue.stalled_after_s + 5)  # stopped, or killed long ago
    upgraded = _cli(settings, "db", "upgrade")
    assert upgraded.returncode == 0 and "schema upgraded from 0005 to" in upgraded.stdout


def _running(settings: Settings) -> int:
    database = db.open_database(settings, check=False)
    try:
        return db.running_workers(database.engine, stalled_after_s=settings.queue.stalled_after_s)
    finally:
        database.close()


def test_an_upgrade_waits_for_an_api_only_serve_too(settings: Settings, tmp_path: Path) -> None:
    # An API on the old code against the new schema fails its requests: it must be seen as a worker is.
    settings = settings.model_copy(update={"queue": FAST_HEARTBEAT})
    env = {**cli_env(settings), **FAST_HEARTBEAT_ENV}
    with callsense_serve(env, tmp_path / "serve.log", "--worker-concurrency", "0"):
        deadline = time.monotonic() + 30
        while _running(settings) != 1:
            assert time.monotonic() < deadline, "the API-only serve never sent a heartbeat"
            time.sleep(0.2)
        head = _stamp(settings, "0012")  # as if this serve were the older version, before the upgrade
        try:
            time.sleep(FAST_HEARTBEAT.stalled_after_s + 0.5)  # later heartbeats keep it counted
            assert _running(settings) == 1
            upgraded = _cli(settings, "db", "upgrade")
            assert upgraded.returncode == 1
            assert " ".join(upgraded.stderr.split()).startswith(
                "error: 1 callsense process(es) ('serve' or 'worker') still run on this database at schema "
                "0012"
            ), upgraded.stderr
            status = _cli(settings, "db", "status")
            assert "processes: 1 running on it" in status.stdout
        finally:
            _stamp(settings, head)
    assert _running(settings) == 0  # a serve stopped normally leaves at once


def test_a_presence_pruned_through_an_outage_registers_again(settings: Settings) -> None:
    rt = open_runtime(settings)
    app = tasks.build_app(rt)

    async def pruned_then_beating() -> int:
        async with app.open_async():
            # The default heartbeat, as before the queue settings: at 0.5 s a beat could register the process
            # again between the prune and the count just after it (the full suite's run: 1 where 0 was due).
            beating = workers.announce_presence(app, heartbeat_s=settings.queue.heartbeat_s)
            presence = asyncio.create_task(beating)
            await asyncio.sleep(1)
            assert _running(settings) == 1
            # what recover_stalled's pruning does to a process silent for 2 minutes
            await app.job_manager.prune_stalled_workers(seconds_since_heartbeat=0)
            assert _running(settings) == 0
            await asyncio.sleep(settings.queue.heartbeat_s + 1)
            counted = _running(settings)
            presence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await presence
            return counted

    try:
        assert asyncio.run(pruned_then_beating()) == 1
        assert _running(settings) == 0
    finally:
        rt.db.close()


def _stamp(settings: Settings, revision: str) -> str:
    """Set the revision the database says it is at; returns the one it said."""
    database = db.open_database(settings, check=False)
    with database.transaction() as session:
        before = str(session.execute(text("select version_num from alembic_version")).scalar_one())
        session.execute(text("update alembic_version set version_num = :revision"), {"revision": revision})
    database.close()
    return before


def test_a_missing_key_file_is_refused_after_an_upgrade_from_before_envelope_encryption(
    settings: Settings,
) -> None:
    # The calls of schema 0005 are sealed by the ring's keys directly and the upgrade gives them no data key:
    # a key file missing then was made afresh, opening none of them and sealing new calls under a key no
    # backup has.
    settings = _load(SNAPSHOTS / "0005.sql", settings)
    database = db.open_database(settings, check=False)
    db.upgrade(database.engine, stalled_after_s=settings.queue.stalled_after_s)
    database.close()
    settings.resolved_key_file.unlink()

    shown = _cli(settings, "show", next(iter(CALLS)))
    assert shown.returncode == 1
    said = " ".join(shown.stderr.split())
    assert (
        f"key file {settings.resolved_key_file} does not exist, but the database holds {len(CALLS)} call(s) "
        "stored before envelope encryption, sealed by the ring's keys directly" in said
    ), said
    assert not settings.resolved_key_file.exists()


def test_the_upgrade_and_doctor_name_what_keys_migrate_envelope_has_left(settings: Settings) -> None:
    settings = _load(SNAPSHOTS / "0005.sql", settings)  # its calls are sealed by the ring's keys directly
    left = f"{len(CALLS)} call(s) stored in an older format wait for 'callsense keys migrate-envelope'"

    upgraded = _cli(settings, "db", "upgrade")
    assert upgraded.returncode == 0 and f"next: {left}" in " ".join(upgraded.stdout.split())
    doctor = _cli(settings, "doctor")
    assert left in " ".join(doctor.stdout.replace("│", " ").split())

    migrated = _cli(settings, "keys", "migrate-envelope")
    assert migrated.returncode == 0, migrated.stderr
    again = _cli(settings, "db", "upgrade")
    assert again.returncode == 0 and "next:" not in again.stdout
    doctor = _cli(settings, "doctor")
    assert "migrate-envelope" not in doctor.stdout and "schema up to date" in doctor.stdout


def test_the_backup_before_the_upgrade_is_made_and_restored_by_the_new_version(
    settings: Settings, tmp_path: Path
) -> None:
    # Step 2 of an upgrade: the new version installed, the schema still the old one (0005: no redacted
    # recordings, no purge marks). The backup named columns of the newest schema and failed on SQL.
    settings = _load(SNAPSHOTS / "0005.sql", settings)
    backup, key_out = tmp_path / "backup", tmp_path / "kept" / "keys.json"
    key_out.parent.mkdir()
    created = _cli(settings, "backup", "create", str(backup), "--key-out", str(key_out))
    assert created.returncode == 0, created.stderr
    assert f"{len(CALLS)} calls" in created.stdout and "schema 0005" in created.stdout

    restored = _cli(settings, "backup", "restore", str(backup), "--key-file", str(key_out), "--force")
    assert restored.returncode == 0, restored.stderr
    assert "schema:    0005" in _cli(settings, "db", "status").stdout
    assert _cli(settings, "db", "upgrade").returncode == 0
    shown = _cli(settings, "show", next(iter(CALLS)))
    assert shown.returncode == 0 and "charged twice" in shown.stdout


def test_doctor_makes_no_key_file_beside_a_database_not_yet_upgraded(settings: Settings) -> None:
    # Run before 'db upgrade' (a database moved to a new machine, its key file forgotten), doctor made a
    # fresh key ring, which every command then used: the calls stored before opened with none of its keys.
    settings = _load(SNAPSHOTS / "0005.sql", settings)
    settings.resolved_key_file.unlink()

    doctor = _cli(settings, "doctor")
    said = " ".join(doctor.stdout.replace("│", " ").split())
    assert doctor.returncode == 1
    assert (
        f"key file {settings.resolved_key_file} does not exist, and none is made while the database" in said
    )
    assert not settings.resolved_key_file.exists()
