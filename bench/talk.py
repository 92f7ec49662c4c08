"""What the talk figures cost: their computation's time on each file next to its transcription's.

    python bench/talk.py ../shared/testdata/aws-lca/derived/call_5min_stereo_agentL_callerR.flac [...]

Decodes each file, transcribes it once with the default Whisper settings, then measures the talk figures
``--repeat`` times (the best run is reported, as ``timeit`` does) and prints a table with the figures found.
No database and no LLM: the figures need only the turns' words and the decoded audio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense import runtime
from callsense.config import load_settings
from callsense.pipeline import talk
from callsense.speech.audio import decode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    parser.add_argument("--repeat", type=int, default=20, help="talk-figure runs per file (best is kept)")
    args = parser.parse_args()

    settings = load_settings(model_dir=args.model_dir.resolve())
    whisper = runtime.whisper_transcriber(settings)  # as `callsense process` transcribes
    table = Table(title="talk figures against transcription, default settings")
    for column in ("file", "audio s", "words", "transcribe s", "talk ms", "talk / transcribe", "figures"):
        table.add_column(column, justify="left" if column in ("file", "figures") else "right")
    for path in args.files:
        audio = decode(path.read_bytes(), max_seconds=settings.max_audio_seconds)
        started = time.perf_counter()
        transcript = whisper.transcribe(audio)
        transcribe_s = time.perf_counter() - started
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            figures = talk.measure(
                transcript.segments,
                audio,
                agent_channel=settings.asr.agent_channel.row,
                settings=settings.talk,
            )
            runs.append(time.perf_counter() - started)
        best = min(runs)
        shown = ""
        if figures is not None:
            shown = (
                f"non-talk {figures.non_talk_seconds} s, overlap {figures.overlap_seconds} s, "
                f"turns {figures.turns}"
            )
            for name, side in (("agent", figures.agent), ("customer", figures.customer)):
                if side is not None:
                    level = side.loudness_dbfs.mean if side.loudness_dbfs else None
                    shown += (
                        f"\n{name}: {side.talk_seconds} s ({side.share:.0%}), {side.words_per_minute} wpm, "
                        f"{side.interruptions} interruptions, longest {side.longest_monologue_seconds} s, "
                        f"{level} dBFS"
                    )
        table.add_row(
            path.name,
            f"{audio.duration:.1f}",
            str(sum(len(segment.words) for segment in transcript.segments)),
            f"{transcribe_s:.1f}",
            f"{1000 * best:.1f}",
            f"{best / transcribe_s:.3%}",
            shown,
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
