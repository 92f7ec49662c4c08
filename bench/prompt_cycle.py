"""A worker's system prompts in turn, in one process: does each request still reuse its instructions?

    python -m bench.prompt_cycle [--sequence A,T,A,Q,A,T,A]

A is the analysis (the settings' taxonomy), T the translation, Q a question about a call, R the merge of a
long call's parts. Their prompt states are saved first when missing, in a child process (as ``callsense
models assemble`` does: otherwise this process's llama.cpp would already hold them in its RAM cache). Then
one process sends the sequence, each request with another call's text and a 1-token answer, through the
embedded back-end's prompt states as ``complete_json`` does, and prints per request llama.cpp's prompt
tokens evaluated and taken from the cache, its prompt milliseconds, and the wall seconds of the whole request
(restoring a state included). Settings as ``callsense process`` reads them (``CALLSENSE_MODEL_DIR`` etc.).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

from callsense.backends.llm import build_llm
from callsense.backends.llm.embedded import EmbeddedLLM, loaded_server
from callsense.config import load_settings
from callsense.pipeline import ask, prompts, warmup

CALLS = [
    ["Acme Energy, Sam speaking.", "Hi, I was billed twice for March.", "I'll refund the second payment."],
    ["Good morning, how can I help?", "My router keeps dropping.", "I'll send an engineer on Friday."],
    ["Acme Mobile, Jo here.", "I'd like to cancel my contract.", "It ends on the fifteenth of May."],
    ["Hello, Acme Bank.", "My card was declined abroad.", "I've lifted the block, try again now."],
]


def instructions() -> dict[str, str]:
    settings = load_settings()
    analysis = prompts.analysis_prompt(settings.analysis.topics)
    return {
        "A": analysis.system,
        "R": analysis.reduce_system,
        "T": prompts.TRANSLATION_SYSTEM,
        "Q": ask.SYSTEM,
    }


def user_message(kind: str, number: int) -> str:
    """Request ``number``'s message: each has another call (numbered), so only the instructions are shared."""
    turns = [f"Call {number}.", *CALLS[number % len(CALLS)]]
    lines = "\n".join(f"{i}. {'Agent' if i % 2 else 'Customer'}: {text}" for i, text in enumerate(turns, 1))
    if kind == "T":
        return prompts.translation_user(lines, language="es")
    if kind == "R":
        return prompts.reduce_user([lines, lines], parts_total=2)
    question = "\nQuestion: what did the agent promise?" if kind == "Q" else ""
    return prompts.analysis_user(lines, language="es") + question


def llm() -> EmbeddedLLM:
    settings = load_settings()
    backend = build_llm(settings.llm, model_dir=settings.resolved_model_dir)
    if not isinstance(backend, EmbeddedLLM) or backend.options.prompt_states is None:
        sys.exit("needs llm.backend = embedded with llm.prompt_states on")
    return backend


def prepare(kinds: set[str]) -> None:
    systems = instructions()
    if not warmup.prepare(llm(), [systems[kind] for kind in sorted(kinds)]):
        sys.exit("the prompt states could not be saved (see log)")


def request(backend: EmbeddedLLM, system: str, user: str) -> dict[str, Any]:
    loaded = loaded_server(backend.options)
    assert loaded.prompt_states is not None
    payload = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": 1,
        "temperature": 0.0,
    }
    started = time.perf_counter()
    with loaded.prompt_states.serving(system):
        body = loaded.server.handle_chat_completions(payload)
    timings: dict[str, Any] = body["timings"]
    return {**timings, "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequence", default="A,T,A,Q,A,T,A", help="instructions in turn: A, T, Q, R")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    kinds = args.sequence.split(",")
    if args.prepare_only:
        prepare(set(kinds))
        return
    subprocess.run([sys.executable, "-m", "bench.prompt_cycle", "--prepare-only", *sys.argv[1:]], check=True)
    backend = llm()
    systems = instructions()
    backend.count_tokens("load")  # the model loaded outside the timings
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| # | instructions | prompt tokens evaluated | from the cache | prompt s | request s |")
    print("|---:|---|---:|---:|---:|---:|")
    for number, kind in enumerate(kinds, start=1):
        found = request(backend, systems[kind], user_message(kind, number))
        print(
            f"| {number} | {kind} | {found['prompt_n']} | {found['cache_n']} | "
            f"{found['prompt_ms'] / 1000:.2f} | {found['wall_s']:.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
