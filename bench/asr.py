"""Transcription benchmark over a folder of audio with a references.jsonl (the format of shared/testdata).

    python -m bench.asr ../shared/testdata [--model base] [--limit N] [--batched] [--beam-size 5]
                        [--number-beam-size 5]

Prints one row per reference (decode and transcribe seconds, real-time factor, WER, detected language),
then the totals: overall WER (errors over reference words), language-ID accuracy, RTF and peak RSS.
Entries with a "channel" key are scored on that channel alone (the stereo_diarization files).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
from rich.console import Console
from rich.table import Table

from callsense.config import Settings
from callsense.config.models import ASRSettings
from callsense.speech.audio import DecodedAudio, decode
from callsense.speech.whisper import WhisperTranscriber
from tests.wer import normalise


@dataclass
class Row:
    audio: str
    seconds: float
    decode: float
    transcribe: float
    errors: int
    words: int
    expected_language: str
    language: str | None

    @property
    def wer(self) -> float:
        return self.errors / max(self.words, 1)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    folder: Path, settings: ASRSettings, model_dir: Path, limit: int | None, number_beam_size: int = 1
) -> list[Row]:
    transcriber = WhisperTranscriber(settings, model_dir=model_dir, number_beam_size=number_beam_size)
    entries = [
        json.loads(line) for line in (folder / "references.jsonl").read_text().splitlines() if line.strip()
    ]
    rows = []
    for entry in entries[:limit]:
        started = time.perf_counter()
        audio = decode((folder / entry["audio"]).read_bytes(), max_seconds=4 * 3600)
        if "channel" in entry:
            audio = DecodedAudio(channels=audio.channels[[entry["channel"]]], info=audio.info)
        decoded = time.perf_counter()
        english_only = transcriber.english_only
        if english_only and entry["lang"] != "en":
            continue
        transcript = transcriber.transcribe(audio)
        finished = time.perf_counter()
        reference = normalise(entry["reference"])
        hypothesis = normalise(" ".join(segment.text for segment in transcript.segments))
        measures = jiwer.process_words(reference, hypothesis or "<empty>")
        errors = measures.substitutions + measures.deletions + measures.insertions
        rows.append(
            Row(
                audio=entry["audio"] + (f"[ch{entry['channel']}]" if "channel" in entry else ""),
                seconds=audio.duration,
                decode=decoded - started,
                transcribe=finished - decoded,
                errors=errors,
                words=len(reference.split()),
                expected_language=entry["lang"],
                language=transcript.language,
            )
        )
    return rows


def report(rows: list[Row], title: str) -> None:
    table = Table(title=title)
    for column in ("audio", "audio s", "decode s", "transcribe s", "RTF", "WER", "lang"):
        table.add_column(column, justify="left" if column == "audio" else "right")
    for row in rows:
        language = row.language or "-"
        if language != row.expected_language:
            language = f"{language} (want {row.expected_language})"
        table.add_row(
            row.audio,
            f"{row.seconds:.1f}",
            f"{row.decode:.2f}",
            f"{row.transcribe:.2f}",
            f"{row.transcribe / row.seconds:.3f}",
            f"{row.wer:.3f}",
            language,
        )
    audio_seconds = sum(row.seconds for row in rows)
    transcribe_seconds = sum(row.transcribe for row in rows)
    words = sum(row.words for row in rows)
    correct = sum(row.language == row.expected_language for row in rows)
    table.add_section()
    table.add_row(
        f"TOTAL {len(rows)} files",
        f"{audio_seconds:.1f}",
        f"{sum(row.decode for row in rows):.2f}",
        f"{transcribe_seconds:.2f}",
        f"{transcribe_seconds / max(audio_seconds, 1e-9):.3f}",
        f"{sum(row.errors for row in rows) / max(words, 1):.3f}",
        f"{correct}/{len(rows)} correct",
    )
    Console(width=160).print(table)
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default="base")
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument(
        "--number-beam-size",
        type=int,
        default=1,
        help="decode the segments holding read-out numbers again with this beam (redaction.number_beam_size)",
    )
    parser.add_argument("--batched", action="store_true")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    # The rest of the decoding as configured (CALLSENSE_ASR__HOTWORDS_BY_LANGUAGE=… and the like).
    settings = Settings().asr.model_copy(
        update={"model": args.model, "beam_size": args.beam_size, "batched": args.batched}
    )
    rows = run(args.folder, settings, args.model_dir, args.limit, args.number_beam_size)
    report(
        rows,
        f"whisper {args.model}, beam {args.beam_size}, number beam {args.number_beam_size}, "
        f"batched={args.batched}, hotwords={bool(settings.hotwords or settings.hotwords_by_language)}",
    )


if __name__ == "__main__":
    main()
