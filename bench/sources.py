"""Folder-source benchmark: how many files per second one poller takes from a folder.

    python bench/sources.py [--files 10000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Writes --files small WAV recordings (0.5 s of 8 kHz silence, 8 kB) into a temporary folder of 100
sub-folders, then, against a fresh database on --postgres, times three polls of one folder source:
"first sight" (every file is new: noted as pending, nothing taken), "take" (every file complete: each is
claimed, registered by the ingest function, its audio checked, encrypted and stored, its row settled) and
"idle" (nothing new: the cost every later poll pays to list the folder). Prints a table; the "take" row's
milliseconds per file is the overhead a folder source adds to each call before the models run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from callsense.backends.recordings.sources import FolderSource
from callsense.config import Settings
from callsense.pipeline import poll
from callsense.runtime import open_runtime
from tests.recording_trees import put, tiny_wav


def _timed(label: str, files: int, run: Callable[[], poll.PollReport]) -> tuple[str, int, float, str]:
    started = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - started
    outcome = f"{report.seen} seen, {len(report.fetched)} taken, {report.waiting} waiting"
    return label, files, seconds, outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    name = f"cs_bench_sources_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    rows: list[tuple[str, int, float, str]] = []
    try:
        with tempfile.TemporaryDirectory() as work:
            share = Path(work) / "share"
            wav = tiny_wav()
            for index in range(args.files):
                put(share, f"{index % 100:02}/call-{index:06}.wav", wav)
            folder = {"name": "bench", "path": str(share), "stable_seconds": 3600}
            settings = Settings.model_validate(
                {"data_dir": Path(work) / "data", "database_url": url, "sources": {"folders": [folder]}}
            )
            rt = open_runtime(settings)
            try:
                source = FolderSource(settings.sources.folders[0])
                rows.append(
                    _timed("first sight", args.files, lambda: poll.poll(rt, source, stable_seconds=3600))
                )
                rows.append(_timed("take", args.files, lambda: poll.poll(rt, source, stable_seconds=0)))
                rows.append(_timed("idle", args.files, lambda: poll.poll(rt, source, stable_seconds=0)))
            finally:
                rt.db.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    table = Table("poll", "files", "seconds", "files/s", "ms/file", "outcome")
    for label, files, seconds, outcome in rows:
        table.add_row(
            label,
            str(files),
            f"{seconds:.1f}",
            f"{files / seconds:.0f}",
            f"{1000 * seconds / files:.2f}",
            outcome,
        )
    Console().print(table)


if __name__ == "__main__":
    main()
