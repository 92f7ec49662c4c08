"""The VACUUM an erasure runs on the data-key table: its time as the table grows, beside a VACUUM FULL.

    python bench/erasure_vacuum.py [--keys 10000 100000 1000000] [--erasures 5] [--postgres URL]

Against a fresh embedded PostgreSQL in a temporary directory (or the empty database at --postgres), fills
``call_keys`` with wrapped keys of the real size up to each --keys count (vacuumed once, as autovacuum leaves
a table at rest), then for --erasures random calls destroys the key (``datakeys.destroy_data_key``, its own
transaction) and times ``datakeys.vacuum_data_keys`` after it, as an erasure does. For scale, one VACUUM FULL
(a rewrite of the table under an exclusive lock: what taking the bytes out of the data files entirely would
cost each erasure). Prints milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from callsense.calls import datakeys
from callsense.config import Settings
from callsense.db import Database, open_database

# 64 bytes, as long as a wrapped data key (version, ring key id, nonce, 32-byte key, tag).
FILL = text(
    "insert into call_keys (call_pk, wrapped, key_id, created_at, enveloped_at)"
    " select gen_random_uuid(), decode(md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text)"
    " || md5((i + 3)::text), 'hex'), 'bench', now(), now()"
    " from generate_series(cast(:first as bigint), cast(:last as bigint)) as i"
)


def _autocommit(db: Database, statement: str) -> float:
    start = time.perf_counter()
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)
    return (time.perf_counter() - start) * 1000


def _erase_one(db: Database) -> float:
    with db.transaction() as session:
        call_pk = session.execute(
            text("select call_pk from call_keys where wrapped is not null order by random() limit 1")
        ).scalar_one()
        datakeys.destroy_data_key(session, uuid.UUID(str(call_pk)))
    start = time.perf_counter()
    datakeys.vacuum_data_keys(db)
    return (time.perf_counter() - start) * 1000


def run(db: Database, sizes: list[int], erasures: int) -> Table:
    table = Table(title="VACUUM of call_keys after destroying one key (ms)")
    for column in ("keys", "table MiB", "VACUUM median", "VACUUM max", "VACUUM FULL"):
        table.add_column(column, justify="right")
    stored = 0
    for size in sorted(sizes):
        with db.transaction() as session:
            session.execute(FILL, {"first": stored + 1, "last": size})
        stored = size
        _autocommit(db, "VACUUM ANALYZE call_keys")
        spent = [_erase_one(db) for _ in range(erasures)]
        full = _autocommit(db, "VACUUM FULL call_keys")
        with db.transaction() as session:
            mib = session.execute(text("select pg_total_relation_size('call_keys')")).scalar_one() / 2**20
        table.add_row(
            f"{size:,}", f"{mib:.1f}", f"{statistics.median(spent):.1f}", f"{max(spent):.1f}", f"{full:.0f}"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--erasures", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL; default: an embedded one in a temporary dir")
    options = parser.parse_args()
    console = Console()
    console.print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="cs-bench-vacuum-") as directory:
        db = open_database(Settings(data_dir=Path(directory), database_url=options.postgres))
        try:
            console.print(run(db, options.keys, options.erasures))
        finally:
            db.close()


if __name__ == "__main__":
    main()
