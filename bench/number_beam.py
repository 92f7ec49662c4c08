"""The number beam of redaction on whole calls: Whisper's time with and without it, and what it changes.

    python -m bench.number_beam FILE [FILE …] [--rounds 2] [--number-beam-size 5]

Each file is transcribed by callsense's transcriber as the pipeline does (language detected, stereo by
channel), with the number beam off (``redaction.number_beam_size`` 1: Whisper's first pass alone) and on,
alternately, ``--rounds`` times each, so that both meet the same load. Prints, per setting, the
transcription seconds of each round, the turns, those holding a read-out number (4 digits or more), the
turns whose text the second pass changed, and the redactor's own time on the transcript (Presidio loaded
beforehand), then the changed turns.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense.config import Settings
from callsense.config.redaction import RedactionSettings
from callsense.redaction.engine import PresidioRedactor
from callsense.speech.audio import decode
from callsense.speech.passes import NUMBER_MIN_DIGITS
from callsense.speech.repetitions import longest_number
from callsense.speech.transcriber import Transcript
from callsense.speech.whisper import WhisperTranscriber


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--number-beam-size", type=int, default=RedactionSettings().number_beam_size)
    args = parser.parse_args()
    settings = Settings()
    beams = (1, args.number_beam_size)
    transcribers = {
        beam: WhisperTranscriber(
            settings.asr,
            model_dir=settings.resolved_model_dir,
            speakers=settings.speakers,
            number_beam_size=beam,
        )
        for beam in beams
    }
    transcribers[1]._model()  # loaded up front (shared by both), so that the first round is comparable
    redactor = PresidioRedactor(settings.redaction)
    redactor.redact_text("warm up", language="en")
    console = Console(width=160)
    table = Table(title=f"Number beam off (1) and on ({args.number_beam_size}), whisper-{settings.asr.model}")
    for column in (
        "file",
        "number beam",
        "transcribe s",
        "median s",
        "turns",
        "with a number",
        "changed",
        "redact s",
    ):
        table.add_column(column, justify="left" if column == "file" else "right")
    changes: list[str] = []
    for path in args.files:
        audio = decode(path.read_bytes(), max_seconds=4 * 3600)
        seconds: dict[int, list[float]] = {beam: [] for beam in beams}
        heard: dict[int, Transcript] = {}
        for _ in range(args.rounds):
            for beam, transcriber in transcribers.items():
                started = time.perf_counter()
                heard[beam] = transcriber.transcribe(audio)
                seconds[beam].append(time.perf_counter() - started)
        first, again = (heard[beam].segments for beam in beams)
        changed = [(a.text, b.text) for a, b in zip(first, again, strict=False) if a.text != b.text]
        changes += [f"{path.name}: {a!r}\n  -> {b!r}" for a, b in changed]
        for beam in beams:
            segments = heard[beam].segments
            started = time.perf_counter()
            redactor.redact_segments(segments, language=heard[beam].language)
            redact = time.perf_counter() - started
            table.add_row(
                path.name,
                str(beam),
                " ".join(f"{s:.1f}" for s in seconds[beam]),
                f"{statistics.median(seconds[beam]):.1f}",
                str(len(segments)),
                str(sum(longest_number(segment.text) >= NUMBER_MIN_DIGITS for segment in segments)),
                "" if beam == 1 else f"{len(changed)} (of {len(first)} / {len(again)})",
                f"{redact:.2f}",
            )
    console.print(table)
    for change in changes:
        console.print(change, markup=False)


if __name__ == "__main__":
    main()
