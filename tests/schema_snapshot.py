"""A database at a released schema revision, with data in it, kept as a fixture for the upgrade test.

When a release adds a migration, run this first, on the code before it (``python -m tests.schema_snapshot``,
needs the PostgreSQL at 127.0.0.1:5432): it makes calls through the real stages (fakes for the models and the
CRM), a dashboard user and an API token, and writes ``tests/fixtures/schema/<revision>.sql`` (pg_dump's plain
SQL, from PostgreSQL 15 so that any newer server loads it) and ``<revision>.keys.json``, a key ring made for
this fixture alone. ``test_schema_upgrade.py`` upgrades each snapshot to the newest schema and reads it all.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sqlalchemy import make_url

from callsense.backup import pgtools
from callsense.config import Settings
from callsense.db import schema_status
from callsense.pipeline import analyse, deliver, fetch, ingest, transcribe
from callsense.security import tokens
from callsense.web import accounts
from tests.conftest import EXTERNAL_PG, ROOT, _fresh_database
from tests.integration.test_stages import SOURCE, runtime_with_fakes

SNAPSHOTS = ROOT / "tests" / "fixtures" / "schema"
CALLS = {"snapshot-delivered": "delivered", "snapshot-pending": "pending"}  # call id: its delivery's status
USER, PASSWORD, TOKEN_NAME = "maria", "snapshot password 1", "crm-sync"


def make(url: str, data_dir: Path) -> str:
    """Fill the empty database at ``url`` through the real code; returns its schema revision."""
    rt = runtime_with_fakes(Settings(data_dir=data_dir, database_url=url))
    try:
        for call_id, delivery_status in CALLS.items():
            call_pk = ingest.ingest(rt, call_id=call_id, source=SOURCE).call_pk
            fetch.run(rt, call_pk, local_files=False)
            transcribe.run(rt, call_pk)
            for delivery_id in analyse.run(rt, call_pk):
                if delivery_status == "delivered":
                    deliver.run(rt, delivery_id)
        with rt.db.transaction() as session:
            accounts.create_user(session=session, username=USER, role=tokens.Role.analyst, password=PASSWORD)
            tokens.create(session=session, name=TOKEN_NAME, role=tokens.Role.viewer)
        revision = schema_status(rt.db.engine).current
        assert revision is not None
        dump = pgtools.find("pg_dump", server=pgtools.server_major(rt.db.engine))
        target = SNAPSHOTS / f"{revision}.sql"
        pgtools.run(
            dump,
            ["--format=plain", "--no-owner", "--no-privileges", f"--file={target}"],
            url=rt.db.engine.url,
        )
        shutil.copyfile(rt.settings.resolved_key_file, SNAPSHOTS / f"{revision}.keys.json")
        return revision
    finally:
        rt.db.close()


def main() -> None:
    databases = _fresh_database(EXTERNAL_PG)
    url = next(databases)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            revision = make(str(make_url(url)), Path(data_dir))
        print(f"wrote {SNAPSHOTS / revision}.sql and .keys.json")
    finally:
        databases.close()


if __name__ == "__main__":
    main()
