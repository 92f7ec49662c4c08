"""Envelope encryption's cost per call: looking up a call's data key, cached and not, beside sealing a value.

    python bench/datakeys.py [--calls 300] [--postgres URL]

Against a fresh embedded PostgreSQL in a temporary directory (or the database at --postgres, which must be
empty or callsense's), for --calls calls: the first use of a call's data key (made, wrapped, stored with
INSERT ... ON CONFLICT, read back), a lookup by a process that has not cached it (one SELECT and an unwrap),
a cached lookup, and for scale sealing and opening a 2 KiB value directly under the ring key and under the
call's data key. Prints the median and 95th percentile per call, in microseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from callsense.calls.datakeys import DataKeyStore
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.db import open_database

VALUE = os.urandom(2048)


def _timed(calls: list[uuid.UUID], operation: Callable[[uuid.UUID], object]) -> list[float]:
    spent = []
    for call in calls:
        start = time.perf_counter()
        operation(call)
        spent.append((time.perf_counter() - start) * 1e6)
    return spent


def run(settings: Settings, count: int) -> Table:
    db = open_database(settings)
    try:
        ring = KeyRing.load_or_create(settings.resolved_key_file)
        enveloped = KeyRing.load_or_create(settings.resolved_key_file)
        writer = DataKeyStore(db, ring)
        enveloped.use_data_keys(writer)
        calls = [uuid.uuid4() for _ in range(count)]
        rows: dict[str, list[float]] = {
            "first use (make, wrap, store)": _timed(calls, lambda call: writer.key_for(call, create=True)),
        }
        reader = DataKeyStore(db, ring)  # another process: nothing cached
        rows["lookup, not cached (SELECT + unwrap)"] = _timed(
            calls, lambda call: reader.key_for(call, create=False)
        )
        rows["lookup, cached"] = _timed(calls, lambda call: reader.key_for(call, create=False))
        rows["seal + open 2 KiB, ring key"] = _timed(
            calls,
            lambda call: ring.decrypt(
                ring.encrypt(VALUE, context=f"call:{call}:x"), context=f"call:{call}:x"
            ),
        )
        rows["seal + open 2 KiB, data key (cached)"] = _timed(
            calls,
            lambda call: enveloped.decrypt(
                enveloped.encrypt(VALUE, context=f"call:{call}:x"), context=f"call:{call}:x"
            ),
        )
    finally:
        db.close()
    table = Table(title=f"data keys, {count} calls (µs per call)")
    for column in ("operation", "median", "p95"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for label, spent in rows.items():
        p95 = statistics.quantiles(spent, n=20)[-1]
        table.add_row(label, f"{statistics.median(spent):.0f}", f"{p95:.0f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--postgres", help="a PostgreSQL URL; default: an embedded one in a temporary dir")
    options = parser.parse_args()
    console = Console()
    console.print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="cs-bench-datakeys-") as directory:
        settings = Settings(data_dir=Path(directory), database_url=options.postgres)
        console.print(run(settings, options.calls))


if __name__ == "__main__":
    main()
