"""Recording-source benchmark: how many files per second one poller takes from a folder or an S3 bucket.

    python bench/sources.py [--source folder|s3] [--files 10000]
                            [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Writes --files small WAV recordings (0.5 s of 8 kHz silence, 8 kB) into 100 sub-folders of a temporary folder
or, with --source s3, as objects into a bucket of a SeaweedFS started on loopback (`weed` from the test
extra), then, against a fresh database on --postgres, times three polls of that one source:
"first sight" (every file is new: noted as pending, nothing taken), "take" (every file complete: each is
claimed, registered by the ingest function, its audio checked, encrypted and stored, its row settled) and
"idle" (nothing new: the cost every later poll pays to list the folder; an S3 source lists from its cursor,
with cursor = "none" the whole prefix). Prints a table; the "take" row's milliseconds per file is the
overhead a source adds to each call before the models run (an S3 source: one ranged GET for the audio
check and one streamed GET per object, on top of a folder's work).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from callsense import logs
from callsense.backends.recordings.sources import FolderSource, Source
from callsense.backends.recordings.sources.s3 import S3Source
from callsense.config import Settings
from callsense.pipeline import poll
from callsense.runtime import Runtime, open_runtime
from tests.recording_trees import put, tiny_wav
from tests.s3server import SeaweedS3

FIRST_SIGHT_SECONDS = 3600.0  # long enough that the first poll takes nothing


@contextmanager
def _folder(work: Path, files: int) -> Iterator[dict[str, Any]]:
    share = work / "share"
    for index in range(files):  # each its own audio, as calls are: a source skips audio it took already
        put(share, f"{index % 100:02}/call-{index:06}.wav", tiny_wav())
    yield {"folders": [{"name": "bench", "path": str(share)}]}


@contextmanager
def _bucket(work: Path, files: int) -> Iterator[dict[str, Any]]:
    server = SeaweedS3(work / "seaweedfs")
    server.start()
    try:
        bucket = server.new_bucket()
        for index in range(files):  # each its own audio, as calls are
            key = f"calls/{index % 100:02}/call-{index:06}.wav"
            server.shared_client.put_object(Bucket=bucket, Key=key, Body=tiny_wav())
        connection = {key: value for key, value in server.settings(bucket).items() if key != "backend"}
        yield {"s3": [{"name": "bench", "prefix": "calls/", "cursor": "none", **connection}]}
    finally:
        server.kill()


def _source(rt: Runtime) -> Source:
    if rt.settings.sources.folders:
        return FolderSource(rt.settings.sources.folders[0])
    return S3Source(rt.settings.sources.s3[0], max_bytes=rt.settings.max_file_bytes)


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
    parser.add_argument("--source", choices=["folder", "s3"], default="folder")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    logs.configure(level="WARNING", json_lines=False)  # no line per file taken

    name = f"cs_bench_sources_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    rows: list[tuple[str, int, float, str]] = []
    try:
        with tempfile.TemporaryDirectory() as work:
            layout = _folder if args.source == "folder" else _bucket
            with layout(Path(work), args.files) as sources:
                settings = Settings.model_validate(
                    {"data_dir": Path(work) / "data", "database_url": url, "sources": sources}
                )
                rt = open_runtime(settings)
                try:
                    source = _source(rt)
                    rows.append(
                        _timed(
                            "first sight",
                            args.files,
                            lambda: poll.poll(rt, source, stable_seconds=FIRST_SIGHT_SECONDS),
                        )
                    )
                    for label in ("take", "idle"):
                        rows.append(
                            _timed(label, args.files, lambda: poll.poll(rt, source, stable_seconds=0))
                        )
                finally:
                    rt.db.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    table = Table("poll", "files", "seconds", "files/s", "ms/file", "outcome", title=f"{args.source} source")
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
