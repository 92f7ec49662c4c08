"""What a backup takes from the database in one snapshot: the dump, and what else it needs of that same
snapshot (the recordings and archived records its calls name, their count, their latest change, and the
latest changes to the other kinds a restore checks: ``changes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from callsense.backup import changes, pgtools
from callsense.calls import service as call_keys
from callsense.db import Database

__all__ = ["RECORDING_COLUMNS", "Snapshot", "dump", "named_recordings"]

# The columns of ``calls`` that name a recording in the blob store (the redacted copy: schema 0012 on).
RECORDING_COLUMNS = ("audio_blob", "redacted_audio_blob")


@dataclass(frozen=True)
class Snapshot:
    """What the dump's snapshot held besides the dump itself."""

    recordings: dict[str, str]  # the blob key of each recording its calls name: the call's id
    records: list[str]  # the blob keys of the archived records its analysed calls may have
    calls: int
    newest_change: datetime | None  # the latest a call was added or changed (None: no calls)
    others: changes.Recorded  # the same of users, tokens, deliveries, categories; fingerprints, keys


def dump(db: Database, tool: pgtools.Tool, target: Path, *, records: bool) -> Snapshot:
    """pg_dump from a snapshot, and in that same snapshot what else the backup needs of it (``records``:
    the keys of the archived records too)."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("select pg_export_snapshot()")).scalar_one()
            columns = {column["name"] for column in inspect(connection).get_columns("calls")}
            recordings = named_recordings(connection)
            not_purged = " and text_purged_at is null" if "text_purged_at" in columns else ""
            analysed = text(f"select id from calls where status = 'done'{not_purged}")
            record_keys = (
                [call_keys.record_blob_key(call_pk) for call_pk in connection.execute(analysed).scalars()]
                if records
                else []
            )
            calls, newest = connection.execute(
                text("select count(*), max(greatest(created_at, updated_at)) from calls")
            ).one()
            others = changes.record(connection)
            # The exporting transaction stays open while pg_dump runs, so its snapshot stays importable.
            pgtools.run(
                tool,
                [
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ],
                url=db.engine.url,
            )
    return Snapshot(
        recordings=recordings, records=record_keys, calls=int(calls), newest_change=newest, others=others
    )


def named_recordings(connection: Connection, *, among: list[str] | None = None) -> dict[str, str]:
    """The blob keys of the recordings calls name (those of ``among`` only, if given): each call's id."""
    # A database not yet upgraded (the backup before 'db upgrade') lacks the later columns.
    columns = {column["name"] for column in inspect(connection).get_columns("calls")}
    test = "is not null" if among is None else "= any(:among)"
    query = " union all ".join(
        f"select {name}, call_id from calls where {name} {test}"
        for name in RECORDING_COLUMNS
        if name in columns
    )
    return {key: call_id for key, call_id in connection.execute(text(query), {"among": among or []})}
