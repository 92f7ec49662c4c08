"""Memory benchmark: peak RSS of the fetch stage and of decoding for transcription, on a 4-hour stereo call.

    python bench/audio_memory.py [--tree /tmp/main-ref] [--audio /tmp/callsense-4h.stereo.flac]

Makes the recording if it is missing: the stereo fixture call (8 kHz FLAC) repeated to the default
``max_audio_seconds`` (4 hours). Each measurement runs in its own process under ``/usr/bin/time -v``, once
for this checkout and once for each ``--tree`` (another checkout, e.g. of main, for a before/after table):

- imports: the modules and the runtime (database, key ring, blob store), nothing decoded: the floor;
- fetch: the real fetch stage (``fetch.run``) of a local file into a fresh database on ``--database``
  (PostgreSQL);
- decode: ``decode`` of the file's bytes, as the transcribe stage does before handing the audio to Whisper;
- decode + stereo check: then ``channels_are_alike``, which the transcriber asks first of every stereo call.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "audio" / "en_refund.stereo.flac"
SECONDS = 4 * 3600
RATE = 8000
FRAME = 4096

RUNTIME = """
import sys, tempfile
from pathlib import Path
from callsense.config import load_settings
from callsense.runtime import open_runtime
from callsense.pipeline import fetch, ingest
path, url = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as data_dir:
    rt = open_runtime(load_settings(data_dir=Path(data_dir), database_url=url))
    call_pk = ingest.ingest(rt, call_id="bench-memory", source=path).call_pk
"""
STEPS = {
    "imports": RUNTIME,
    "fetch": RUNTIME + "    fetch.run(rt, call_pk, source=path)\n",
    "decode": "import sys\nfrom pathlib import Path\nfrom callsense.speech.audio import decode\n"
    "audio = decode(Path(sys.argv[1]).read_bytes(), max_seconds=4 * 3600)\n",
}
STEPS["decode + stereo check"] = (
    STEPS["decode"]
    + "from callsense.speech.audio import channels_are_alike\nchannels_are_alike(audio, threshold=0.95)\n"
)


def make_recording(path: Path) -> None:
    """The fixture call, looped to exactly SECONDS of 8 kHz 16-bit stereo FLAC."""
    with av.open(str(SOURCE)) as source:
        resampler = av.AudioResampler(format="s16p", layout="stereo", rate=RATE)
        pieces = [out.to_ndarray() for frame in source.decode(audio=0) for out in resampler.resample(frame)]
    call = np.concatenate(pieces, axis=1)
    total = SECONDS * RATE
    with av.open(str(path), mode="w", format="flac") as output:
        stream = output.add_stream("flac", rate=RATE, layout="stereo")
        stream.format = "s16"
        written = 0
        while written < total:
            start = written % call.shape[1]
            count = min(FRAME, total - written, call.shape[1] - start)
            block = np.ascontiguousarray(call[:, start : start + count].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
            frame.sample_rate = RATE
            frame.pts = written
            output.mux(stream.encode(frame))
            written += count
        output.mux(stream.encode(None))


def measure(tree: Path, step: str, audio: Path, admin_url: str) -> tuple[int, float]:
    """Peak RSS (bytes) and wall seconds of one step, run by ``tree``'s code in a fresh process."""
    name = f"cs_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        done = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "-c", STEPS[step], str(audio), url],
            cwd=tree,
            env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if done.returncode != 0:
        raise SystemExit(f"{step} in {tree} failed:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    assert peak is not None and wall is not None, done.stderr
    seconds = sum(float(part) * 60**index for index, part in enumerate(reversed(wall.group(1).split(":"))))
    return int(peak.group(1)) * 1024, seconds


def print_peaks(
    title: str, trees: list[Path], steps: Iterable[str], result: Callable[[Path, str], tuple[int, float]]
) -> None:
    """One row per step, a peak RSS and a wall time column per tree; ``result`` gives (bytes, seconds)."""
    table = Table(title=title)
    table.add_column("step")
    for tree in trees:
        table.add_column(f"{tree.name} peak RSS", justify="right")
        table.add_column("wall", justify="right")
    for step in steps:
        cells = [step]
        for tree in trees:
            peak, seconds = result(tree, step)
            cells += [f"{peak / 2**20:,.0f} MiB", f"{seconds:.1f} s"]
        table.add_row(*cells)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to measure")
    parser.add_argument("--audio", type=Path, default=Path("/tmp/callsense-4h.stereo.flac"))
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if not args.audio.exists():
        make_recording(args.audio)
    trees = [tree.resolve() for tree in args.tree] + [ROOT]
    with av.open(str(args.audio)) as container:
        seconds = (container.duration or 0) / av.time_base
    title = f"{args.audio.name}: {args.audio.stat().st_size / 2**20:.0f} MiB, {seconds:.0f} s"
    print_peaks(title, trees, STEPS, lambda tree, step: measure(tree, step, args.audio, args.database))


if __name__ == "__main__":
    main()
