"""Custom vocabulary: are rare product names recognised, with and without ``asr.hotwords``?

    python -m bench.hotwords [--model base]

A caller says sentences holding made-up product, plan and competitor names (the fixtures' Piper voice, 8 kHz,
see bench/tts.py). Each is transcribed twice by callsense's transcriber, without hotwords and with the names
as hotwords; a name counts as recognised when the transcript holds it, ignoring case and punctuation. Prints
one row per sentence, then how many names each run got and its word error rate on the other words.
"""

from __future__ import annotations

import argparse
import re
import time

import jiwer
from rich.console import Console
from rich.table import Table

from bench.tts import Speaker
from callsense.config import Settings
from callsense.config.models import ASRSettings
from callsense.speech.whisper import WhisperTranscriber

NAMES = ["Zentrafon", "Quorvix Ultra", "Plandexa", "Telmora Max", "Brivonet", "Vyloria"]
SENTENCES = [
    "Hi, I'm calling about my Zentrafon router, it keeps dropping the connection.",
    "I would like to upgrade to the Quorvix Ultra plan please.",
    "Your Plandexa app charged me twice this month.",
    "I switched from Telmora Max because it was too expensive.",
    "Brivonet offered me a better price, so I want to cancel.",
    "Can you tell me when the Vyloria bundle renews?",
]


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    args = parser.parse_args()
    model_dir = Settings().resolved_model_dir
    runs = {
        "without": WhisperTranscriber(ASRSettings(model=args.model), model_dir=model_dir),
        "with hotwords": WhisperTranscriber(
            ASRSettings(model=args.model, hotwords=NAMES), model_dir=model_dir
        ),
    }
    speaker = Speaker()
    table = Table(title=f"rare names through whisper-{args.model}")
    table.add_column("name")
    for label in runs:
        table.add_column(label)
    found = dict.fromkeys(runs, 0)
    heard: dict[str, list[str]] = {label: [] for label in runs}
    seconds = dict.fromkeys(runs, 0.0)
    for name, sentence in zip(NAMES, SENTENCES, strict=True):
        audio = speaker.say(sentence)
        cells = []
        for label, transcriber in runs.items():
            started = time.perf_counter()
            text = transcriber.transcribe(audio, language="en").text
            seconds[label] += time.perf_counter() - started
            hit = _plain(name) in _plain(text)
            found[label] += hit
            heard[label].append(_plain(text) or "-")
            cells.append(("✓ " if hit else "✗ ") + text)
        table.add_row(name, *cells)
    console = Console()
    console.print(table)
    reference = [_plain(sentence) for sentence in SENTENCES]
    for label in runs:
        console.print(
            f"{label}: names {found[label]}/{len(NAMES)}, "
            f"WER {jiwer.wer(reference, heard[label]):.3f}, {seconds[label]:.1f} s transcribing"
        )


if __name__ == "__main__":
    main()
