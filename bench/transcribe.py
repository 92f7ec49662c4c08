"""The transcription alone, as `callsense process` transcribes: language, channels or voices, number beam.

    python bench/transcribe.py ../shared/testdata/aws-lca/derived/call_5min_stereo_agentL_callerR.flac [...]

Loads Whisper once, then times ``--rounds`` transcriptions of each file and prints a table: each round's
seconds, turns, words, and a digest of the transcript (turns, words and speakers), so that two checkouts
(``PYTHONPATH=/path/to/checkout``, run one after the other in one command) can be compared for speed and
for giving the same transcript. Settings come from the environment as usual (e.g.
``CALLSENSE_ASR__PARALLEL_CHANNELS=false``, ``CALLSENSE_SPEAKERS__DIARIZATION=false``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense import runtime
from callsense.config import load_settings
from callsense.speech.audio import decode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    parser.add_argument("--rounds", type=int, default=1, help="transcriptions of each file")
    args = parser.parse_args()

    settings = load_settings(model_dir=args.model_dir.resolve())
    whisper = runtime.whisper_transcriber(settings)
    whisper._model()  # loaded outside the timing
    table = Table(title="transcription, default settings")
    for column in ("file", "audio s", "round", "load", "transcribe s", "turns", "words", "digest"):
        table.add_column(column, justify="left" if column in ("file", "digest") else "right")
    for path in args.files:
        audio = decode(path.read_bytes(), max_seconds=settings.max_audio_seconds)
        for round_ in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            started = time.perf_counter()
            transcript = whisper.transcribe(audio)
            seconds = time.perf_counter() - started
            stored = json.dumps([segment.model_dump(mode="json") for segment in transcript.segments])
            table.add_row(
                path.name,
                f"{audio.duration:.1f}",
                str(round_),
                f"{load:.1f}",
                f"{seconds:.1f}",
                str(len(transcript.segments)),
                str(sum(len(segment.words) for segment in transcript.segments)),
                hashlib.sha256(stored.encode()).hexdigest()[:12],
            )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
