"""Erasure vacuums the data-key table: the row version that held the destroyed wrapped key is removed from
the table's heap, as pageinspect reads it (a PostgreSQL with the contrib extensions and a superuser: the
server the external tests use); a VACUUM that cannot run is logged and does not stop the erasure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from callsense.calls import datakeys
from callsense.calls.models import CallKey
from callsense.config import Settings
from callsense.pipeline import erasure, ingest
from callsense.runtime import Runtime, open_runtime

SOURCE = "https://recorder.example/call.wav"
# Every row version of call_keys (live, or dead and not yet vacuumed) that holds these bytes.
VERSIONS_HOLDING = text(
    "select count(*) from generate_series(0, pg_relation_size('call_keys') / 8192 - 1) as page,"
    " lateral heap_page_items(get_raw_page('call_keys', page::int)) as item"
    " where position(cast(:needle as bytea) in item.t_data) > 0"
)


@pytest.fixture
def inspected(tmp_path: Path, model_dir: Path, external_database_url: str) -> Iterator[Runtime]:
    admin = create_engine(external_database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("create extension if not exists pageinspect"))
    except DBAPIError as exc:  # no contrib package, or not a superuser
        pytest.skip(f"pageinspect is not available: {str(exc.orig).splitlines()[0]}")
    finally:
        admin.dispose()
    settings = Settings(data_dir=tmp_path / "data", model_dir=model_dir, database_url=external_database_url)
    runtime = open_runtime(settings)
    yield runtime
    runtime.db.close()


def _keyed_call(rt: Runtime, call_id: str) -> tuple[uuid.UUID, bytes]:
    """A call registered (its encrypted source made it a data key) and its wrapped data key."""
    call_pk = ingest.ingest(rt, call_id=call_id, source=SOURCE).call_pk
    with rt.db.transaction() as session:
        wrapped = session.scalar(select(CallKey.wrapped).where(CallKey.call_pk == call_pk))
    assert wrapped is not None
    return call_pk, wrapped


def _versions_holding(rt: Runtime, wrapped: bytes) -> int:
    with rt.db.transaction() as session:
        return int(session.execute(VERSIONS_HOLDING, {"needle": wrapped}).scalar_one())


def test_erasure_removes_the_row_version_that_held_the_wrapped_key(inspected: Runtime) -> None:
    rt = inspected
    _, erased_key = _keyed_call(rt, "erased")
    destroyed_pk, destroyed_key = _keyed_call(rt, "destroyed-before")
    _, kept_key = _keyed_call(rt, "kept")

    # Destroying a key alone leaves the old row version, the wrapped key in it, in the heap.
    with rt.db.transaction() as session:
        datakeys.destroy_data_key(session, destroyed_pk)
    assert _versions_holding(rt, destroyed_key) == 1

    assert erasure.erase(rt, call_id="erased", actor="dpo", reason="DSR-50", via="cli").erased_now
    assert _versions_holding(rt, erased_key) == 0
    assert _versions_holding(rt, destroyed_key) == 0  # the same VACUUM took the earlier one too
    assert _versions_holding(rt, kept_key) == 1


def test_an_erasure_whose_vacuum_cannot_run_is_done_and_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = open_runtime(settings)
    call_pk, _ = _keyed_call(rt, "erased")
    monkeypatch.setattr(datakeys, "VACUUM_LOCK_TIMEOUT_MS", 50)
    capsys.readouterr()
    with rt.db.engine.connect() as holder:  # what another VACUUM of the table holds
        holder.execute(text("lock table call_keys in share update exclusive mode"))
        done = erasure.erase(rt, call_id="erased", actor="dpo", reason="DSR-51", via="cli")
        holder.rollback()
    assert done.erased_now
    with rt.db.transaction() as session:
        row = session.get(CallKey, call_pk)
        assert row is not None and row.wrapped is None and row.destroyed_at is not None
    warnings = [line for line in "".join(capsys.readouterr()).splitlines() if "was not vacuumed" in line]
    assert len(warnings) == 1 and "lock timeout" in warnings[0], warnings
    rt.db.close()
