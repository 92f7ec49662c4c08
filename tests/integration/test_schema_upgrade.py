"""Upgrades: a database saved at each released schema revision (tests/schema_snapshot.py) is brought to the
newest by ``db.upgrade`` and read back through the real code; a process refuses a schema it does not know.
The snapshots hold the database only (no recordings), so the reading stops short of the audio."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text

from callsense import db
from callsense.backup import pgtools
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.config import Settings
from callsense.errors import SchemaVersionError
from callsense.runtime import open_runtime
from callsense.security import tokens
from callsense.web import accounts
from tests.crm_calls import cli_env
from tests.schema_snapshot import CALLS, PASSWORD, SNAPSHOTS, TOKEN_NAME, USER
from tests.servers import CALLSENSE


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


SNAPSHOT_TOPIC = "Duplicate charge refund"  # tests/crm_calls.ANALYSIS's topic when the snapshots were taken


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLSENSE, *args], env=cli_env(settings), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS.glob("*.sql")), ids=lambda path: path.stem)
def test_a_database_at_a_released_schema_upgrades_and_reads_back(snapshot: Path, settings: Settings) -> None:
    settings = _load(snapshot, settings)
    database = db.open_database(settings, check=False)
    before = db.upgrade(database.engine)
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
        db.upgrade(database.engine)  # never a downgrade
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


def test_the_embedded_server_is_upgraded_on_open(settings: Settings) -> None:
    _at_revision(settings, "0004")
    database = db.open_database(settings, check=False)
    db.check_schema(database.engine, upgrade_older=True)  # what open_database does for the embedded server
    assert db.schema_status(database.engine).up_to_date
    database.close()
