"""Which engine should write the English translation of a non-English call: Whisper translate or the LLM?

    python -m bench.translation [--model-dir .cache/models] [--audio-dir tests/fixtures/audio]

For each committed non-English fixture call it transcribes once, then translates with both engines and
scores each translation against an English reference written by hand for this benchmark
(bench/translation_references.jsonl): chrF (character n-gram F-score; tolerant of inflection and word order)
and BLEU from sacrebleu, plus the seconds each engine took on top of transcription. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import sacrebleu
from rich.console import Console
from rich.table import Table

from callsense.backends.llm import build_llm
from callsense.config.models import ASRSettings, LLMSettings
from callsense.pipeline.analysis import AnalysisOptions, translate_turns
from callsense.pipeline.transcript_chunks import turns_of
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber

REFERENCES = Path(__file__).with_name("translation_references.jsonl")
_SPEAKER = re.compile(r"^(Agent|Customer):\s*", re.MULTILINE)


def plain(text: str) -> str:
    """One line of text without speaker prefixes: both engines are scored on the words alone."""
    return " ".join(_SPEAKER.sub("", text).split())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    parser.add_argument("--audio-dir", type=Path, default=Path("tests/fixtures/audio"))
    args = parser.parse_args()

    transcriber = WhisperTranscriber(ASRSettings(), model_dir=args.model_dir)
    llm = build_llm(LLMSettings(), model_dir=args.model_dir)
    table = Table(title="English translation: Whisper translate vs the LLM (Qwen2.5-Coder-1.5B)")
    for column in ("call", "engine", "seconds", "chrF", "BLEU", "translation (start)"):
        table.add_column(
            column, justify="left" if column in {"call", "engine", "translation (start)"} else "right"
        )
    totals: dict[str, list[float]] = {"whisper": [], "llm": []}
    for line in REFERENCES.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        reference = " ".join(entry["english"])
        audio = decode((args.audio_dir / entry["audio"]).read_bytes(), max_seconds=3600)
        transcript = transcriber.transcribe(audio, language=entry["lang"])

        started = time.perf_counter()
        by_whisper = transcriber.translate(audio, language=entry["lang"]).text
        whisper_seconds = time.perf_counter() - started
        started = time.perf_counter()
        by_llm, failure = translate_turns(
            turns_of(transcript.segments), language=entry["lang"], llm=llm, options=AnalysisOptions()
        )
        llm_seconds = time.perf_counter() - started

        for engine, text, seconds in (
            ("whisper", by_whisper, whisper_seconds),
            ("llm", by_llm or f"(failed: {failure.reason if failure else '?'})", llm_seconds),
        ):
            hypothesis = plain(text)
            chrf = sacrebleu.sentence_chrf(hypothesis, [reference]).score
            bleu = sacrebleu.sentence_bleu(hypothesis, [reference]).score
            totals[engine].append(chrf)
            table.add_row(
                entry["audio"], engine, f"{seconds:.1f}", f"{chrf:.1f}", f"{bleu:.1f}", hypothesis[:60]
            )
    for engine, scores in totals.items():
        table.add_row("MEAN", engine, "", f"{sum(scores) / len(scores):.1f}", "", "")
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
