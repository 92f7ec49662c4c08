"""End-to-end benchmark: every stage of `callsense process` on each file, with the default settings.

    python bench/pipeline.py ../shared/testdata/aws-lca/derived/call_5min_stereo_agentL_callerR.flac [...]

Uses a throw-away data directory (embedded PostgreSQL) unless CALLSENSE_DATABASE_URL is set. Prints, per
file: model load time (first file only), fetch / transcribe / analyse seconds, total, real-time factor and
the share of the wall time spent outside the models (the pipeline's own overhead), then peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense import runtime
from callsense.config import load_settings
from callsense.pipeline import inline


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    args = parser.parse_args()

    table = Table(title="callsense process, default settings")
    for column in (
        "file",
        "audio s",
        "load s",
        "fetch s",
        "transcribe s",
        "analyse s",
        "total s",
        "RTF",
        "overhead",
    ):
        table.add_column(column, justify="left" if column == "file" else "right")
    with tempfile.TemporaryDirectory(prefix="callsense-bench-") as data_dir:
        settings = load_settings(data_dir=Path(data_dir), model_dir=args.model_dir.resolve())
        whisper = runtime.whisper_transcriber(settings)
        rt = dataclasses.replace(runtime.open_runtime(settings), transcriber=whisper)
        try:
            started = time.perf_counter()
            # Load the models up front so that the first row is comparable to the rest: Whisper, the LLM, and
            # the redactor with its English pipeline (each other language's loads on its first call).
            whisper._model()
            rt.llm.count_tokens("warm up")
            rt.redactor.redact_text("warm up", language="en")
            load = time.perf_counter() - started
            for index, path in enumerate(args.files):
                started = time.perf_counter()
                record = inline.process(rt, source=str(path), call_id=f"bench-{index}-{path.stem}")
                total = time.perf_counter() - started
                timings = record.timings
                model_time = (timings.transcribe or 0) + (timings.analyse or 0)
                duration = record.duration or 0.0
                table.add_row(
                    path.name,
                    f"{duration:.1f}",
                    f"{load:.1f}" if index == 0 else "",
                    f"{timings.fetch or 0:.2f}",
                    f"{timings.transcribe or 0:.1f}",
                    f"{timings.analyse or 0:.1f}",
                    f"{total:.1f}",
                    f"{total / max(duration, 1e-9):.3f}",
                    f"{(total - model_time) / total:.1%}",
                )
        finally:
            rt.db.close()
    Console(width=160).print(table)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
