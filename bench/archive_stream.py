"""Archive benchmark: peak RSS and time of storing a long recording in the archive and reading it back, on the
filesystem archive and on S3 (SeaweedFS on loopback, as the tests run it).

    PYTHONPATH=$PWD python bench/archive_stream.py [--tree /tmp/main-ref] [--backend s3] [--audio FILE]

The recording is ``bench/audio_memory.py``'s (the stereo fixture call looped to 4 hours, made if missing).
Each step runs in its own process under ``/usr/bin/time -v``, for this checkout and for each ``--tree``
(another checkout, e.g. of main, for a before/after table), in order on one database and one archive:

- runtime: the modules and the runtime, nothing read: the floor every other step stands on;
- store (fetch stage): ``fetch.run`` of the local file: copied, probed, encrypted into the archive;
- read back: the whole recording decrypted from the archive, as transcription reads it before decoding;
- play 1 MiB: the player's range of one MiB in the middle (``access.play_recording``).

The time column is the step's own work, measured inside the process (imports and the runtime excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.audio_memory import make_recording, print_peaks
from tests.s3server import SeaweedS3

ROOT = Path(__file__).resolve().parent.parent

RUNTIME = """
import hashlib, json, sys, time
from pathlib import Path
from callsense.calls import access
from callsense.calls import service as calls
from callsense.config import load_settings
from callsense.pipeline import fetch, ingest
from callsense.runtime import open_runtime
path, url, data_dir, blobs = sys.argv[1:5]
rt = open_runtime(load_settings(data_dir=Path(data_dir), database_url=url, blobs=json.loads(blobs)))
started = time.perf_counter()
"""
STORE = """
call_pk = ingest.ingest(rt, call_id="bench-archive", source=path).call_pk
fetch.run(rt, call_pk, source=path)
"""
READ = """
with rt.db.transaction() as session:
    call_pk = calls.get(session=session, call_id="bench-archive").id
key, context = calls.audio_blob_key(call_pk), calls.audio_context(call_pk)
digest = hashlib.sha256()
if hasattr(rt.blobs, "open"):  # streamed: a segment at a time
    with rt.keyring.open_blob(rt.blobs.open(key), context=context) as plain:
        while chunk := plain.read(1 << 20):
            digest.update(chunk)
else:  # before: the whole ciphertext, then the whole plaintext
    digest.update(rt.keyring.decrypt(rt.blobs.get(key), context=context))
"""
PLAY = """
with rt.db.transaction() as session:
    size = calls.get(session=session, call_id="bench-archive").audio_bytes
    middle = size // 2
    played = access.play_recording(
        session=session, keyring=rt.keyring, blobs=rt.blobs, call_id="bench-archive",
        range_header=f"bytes={middle}-{middle + (1 << 20) - 1}", actor="bench", via="bench", original=True,
    )
    body = b"".join(played.content()) if callable(played.content) else played.content
    assert len(body) == 1 << 20
"""
DONE = "print(f'step-seconds {time.perf_counter() - started:.3f}')\n"
STEPS = {"runtime": "", "store (fetch stage)": STORE, "read back": READ, "play 1 MiB": PLAY}


def run_step(tree: Path, step: str, argv: list[str]) -> tuple[int, float]:
    """Peak RSS (bytes) and the step's own seconds, run by ``tree``'s code in a fresh process."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", RUNTIME + STEPS[step] + DONE, *argv],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{step} in {tree} failed:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = re.search(r"step-seconds ([\d.]+)", done.stdout)
    assert peak is not None and seconds is not None, done.stderr
    return int(peak.group(1)) * 1024, float(seconds.group(1))


def measure(
    tree: Path, audio: Path, admin_url: str, blobs: dict[str, object]
) -> dict[str, tuple[int, float]]:
    """Every step for one tree, on a fresh database and archive of its own."""
    name = f"cs_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="cs-bench-") as data_dir:
            argv = [str(audio), admin_url.rsplit("/", 1)[0] + f"/{name}", data_dir, json.dumps(blobs)]
            return {step: run_step(tree, step, argv) for step in STEPS}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to measure")
    parser.add_argument("--audio", type=Path, default=Path("/tmp/callsense-4h.stereo.flac"))
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--backend", choices=["filesystem", "s3"], action="append")
    args = parser.parse_args()
    if not args.audio.exists():
        make_recording(args.audio)
    trees = [tree.resolve() for tree in args.tree] + [ROOT]
    for backend in args.backend or ["filesystem", "s3"]:
        server = None
        blobs: dict[str, object] = {"backend": "filesystem"}
        with tempfile.TemporaryDirectory(prefix="cs-bench-s3-") as root:
            if backend == "s3":
                server = SeaweedS3(Path(root))
                server.start()
                blobs = server.settings(server.new_bucket())
            try:
                results = {tree: measure(tree, args.audio, args.database, blobs) for tree in trees}
            finally:
                if server is not None:
                    server.kill()
        size = args.audio.stat().st_size / 2**20
        title = f"{backend} archive, {args.audio.name} ({size:.0f} MiB)"
        print_peaks(title, trees, STEPS, lambda tree, step: results[tree][step])  # noqa: B023 (called at once)


if __name__ == "__main__":
    main()
