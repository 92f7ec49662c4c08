"""Asking about a call on the configured LLM (the embedded model by default): seconds and tokens per question.

    python bench/analyse.py transcribe samples/call_en_refund.flac /tmp/call.json   # Whisper once
    python bench/ask.py /tmp/call.json "Did the agent offer a refund?" "What is the customer's name?"

The transcript file is what ``bench/analyse.py transcribe`` writes, or a record from ``callsense process
--json-out`` (both hold ``segments``). The model is loaded before the timing; the first question pays for
processing the whole prompt, the next ones reuse llama.cpp's cache of the instructions and the transcript,
as questions about one call in a row do. Prints one row per question: seconds, LLM requests, prompt and
answer tokens (as the model counts them), whether the answer is supported, the quotes kept and dropped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.analyse import Counting
from callsense.backends.llm import build_llm
from callsense.calls.schemas import Segment
from callsense.config import load_settings
from callsense.pipeline.ask import answer_question


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("transcript", type=Path, help="a JSON file with the call's segments")
    parser.add_argument("questions", nargs="+", help="the questions, asked in this order")
    args = parser.parse_args()
    segments = [Segment.model_validate(item) for item in json.loads(args.transcript.read_text())["segments"]]
    settings = load_settings()
    llm = Counting(build_llm(settings.llm, model_dir=settings.resolved_model_dir))
    llm.count_tokens("warm up")  # loads the model outside the timing
    table = Table("question", "seconds", "requests", "prompt tokens", "answer tokens", "supported", "quotes")
    for question in args.questions:
        before = (llm.requests, llm.prompt_tokens, llm.answer_tokens)
        started = time.perf_counter()
        result = answer_question(segments=segments, question=question, llm=llm)
        seconds = time.perf_counter() - started
        table.add_row(
            question,
            f"{seconds:.1f}",
            str(llm.requests - before[0]),
            str(llm.prompt_tokens - before[1]),
            str(llm.answer_tokens - before[2]),
            "yes" if result.supported else "no",
            f"{len(result.supporting_turns)} kept, {result.dropped_quotes} dropped",
        )
    Console(width=160).print(table)  # piped output keeps one row per question


if __name__ == "__main__":
    main()
