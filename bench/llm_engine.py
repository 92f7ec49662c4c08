"""llama.cpp settings for the embedded LLM, measured in CPU time so that other work on the machine does not
blur them: one thread, the real analysis prompt of a transcript made by ``bench/analyse.py transcribe``.

    python bench/llm_engine.py /tmp/call.json default flash_attn_off flash_attn_on ubatch_2048 kv_q8

For each setting a fresh server loads the bundled model, evaluates the prompt (the first ``--turns`` turns,
so that a run stays short on a busy machine) with a 1-token answer, then asks again with a 40-token answer
(the prompt now cached), and prints the CPU milliseconds per prompt token and per answer token. With one
thread the CPU time is the work done, whatever else runs; wall time is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import xllamacpp

from callsense.assets.catalog import resolve_gguf
from callsense.backends.llm.base import JSONRequest, chat_messages
from callsense.calls.schemas import Segment
from callsense.config import load_settings
from callsense.config.analysis import DEFAULT_TOPICS
from callsense.pipeline import prompts
from callsense.pipeline.quarters import Quarters
from callsense.pipeline.transcript_chunks import turns_of

SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},  # as callsense loads it: flash attention "auto", n_ubatch 512, F16 KV cache
    "flash_attn_off": {"flash_attn_type": xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED},
    "flash_attn_on": {"flash_attn_type": xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED},
    "ubatch_2048": {"n_ubatch": 2048},
    "kv_q8": {
        "flash_attn_type": xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        "cache_type_k": xllamacpp.ggml_type.GGML_TYPE_Q8_0,
        "cache_type_v": xllamacpp.ggml_type.GGML_TYPE_Q8_0,
    },
}


def server(gguf: Path, changes: dict[str, Any]) -> Any:
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx, params.n_parallel, params.n_gpu_layers = 4096, 1, 0
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    params.warmup, params.verbosity, params.ui = False, -1, False
    for name, value in changes.items():
        setattr(params, name, value)
    return xllamacpp.Server(params)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("transcript", type=Path)
    parser.add_argument("settings", nargs="+", choices=list(SETTINGS))
    parser.add_argument("--turns", type=int, default=14, help="turns of the transcript in the prompt")
    args = parser.parse_args()
    segments = [Segment.model_validate(item) for item in json.loads(args.transcript.read_text())["segments"]]
    turns = turns_of(segments)[: args.turns]
    prompt = prompts.analysis_prompt(DEFAULT_TOPICS)
    user = prompts.analysis_user(Quarters.of(segments).marked(turns), language="en")
    request = JSONRequest(prompt.system, user, prompt.schema, "call_analysis", max_tokens=40)
    payload = {
        "messages": chat_messages(request),
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": prompt.schema}},
        "temperature": 0.0,
    }
    settings = load_settings()
    gguf = resolve_gguf(settings.llm.model, settings.resolved_model_dir)
    for name in args.settings:
        engine = server(gguf, SETTINGS[name])
        found: dict[str, Any] = {"setting": name}
        for what, max_tokens in (("prompt", 1), ("answer", 40)):
            cpu_before, wall_before = cpu_seconds(), time.perf_counter()
            timings = engine.handle_chat_completions({**payload, "max_tokens": max_tokens})["timings"]
            tokens = timings["prompt_n"] if what == "prompt" else timings["predicted_n"]
            found[what] = {
                "tokens": tokens,
                "cpu_ms_per_token": round(1000 * (cpu_seconds() - cpu_before) / tokens, 1),
                "wall_ms_per_token": round(1000 * (time.perf_counter() - wall_before) / tokens, 1),
            }
        print(json.dumps(found), flush=True)
        del engine


if __name__ == "__main__":
    main()
