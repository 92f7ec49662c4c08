"""Embedded back-end: a GGUF model run in-process by llama.cpp through the prebuilt ``xllamacpp`` wheel.

Loading takes seconds, so one ``xllamacpp.Server`` is kept per (model file, context, threads, GPU layers)
for the life of the process and shared by every ``EmbeddedLLM`` built with the same settings.

``xllamacpp.Server`` always starts llama.cpp's HTTP server too, on 127.0.0.1 at a random port. We call it
in-process (``handle_chat_completions``), but the socket is there: it is bound to loopback only, protected
by a random API key that never leaves this process, with CORS and the web UI switched off. We use it
ourselves for ``/tokenize``, which the Python API lacks, and, with ``prompt_states`` set, for ``/slots``
(save and restore a system prompt's state: ``prompt_states.py``); otherwise ``/slots``, which would show
prompts, i.e. transcripts, to a holder of the key, is switched off too.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from callsense import metrics
from callsense.backends.llm.base import JSONRequest, chat_messages, estimate_tokens
from callsense.backends.llm.http import kept_message, sent_text
from callsense.backends.llm.openai_compat import first_choice_content
from callsense.backends.llm.prompt_states import PromptStates, state_file_name
from callsense.errors import ConfigError, LLMUnavailableError, ModelAssetError

log = structlog.get_logger()

# llama.cpp logs every load step and every request to stderr at its default verbosity (3); -1 keeps it silent.
# Errors still reach us: they come back as {"error": ...} or as exceptions.
_LLAMA_VERBOSITY = -1
RAM_PROMPT_CACHE_MIB = 1024


@dataclass(frozen=True)
class EmbeddedOptions:
    gguf: Path
    context_tokens: int = 4096
    threads: int = 0
    """0 uses every core."""
    gpu_layers: int = 0
    prompt_states: Path | None = None
    """Where system prompts' states are saved for later processes (``prompt_states.py``); None: not kept."""

    @property
    def resolved_threads(self) -> int:
        if self.threads:
            return self.threads
        # The CPUs this process may run on (a container's cpuset), not every CPU of the host.
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0)) or 1
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _LoadedServer:
    server: Any
    address: str
    api_key: str
    prompt_states: PromptStates | None = None


_servers: dict[EmbeddedOptions, _LoadedServer] = {}
_servers_lock = threading.Lock()


def _load(options: EmbeddedOptions) -> _LoadedServer:
    import xllamacpp

    if not options.gguf.is_file():
        raise ModelAssetError(f"GGUF model {options.gguf} does not exist")
    params = xllamacpp.CommonParams()
    params.model.path = str(options.gguf)
    params.n_ctx = options.context_tokens
    # One slot: the whole context belongs to the one request the pipeline runs at a time.
    params.n_parallel = 1
    params.n_gpu_layers = options.gpu_layers
    params.cpuparams.n_threads = options.resolved_threads
    params.cpuparams_batch.n_threads = options.resolved_threads
    params.warmup = False  # saves a second per load; the first request pays it instead
    # llama.cpp's RAM prompt cache keeps the prompts a slot held (``prompt_states.py``); its default, 8 GiB
    # a process, would grow by a call's prompt (40-80 MB for 5 minutes) per call until then: 1 GiB holds the
    # instructions' states and a dozen such calls, the least recently used dropped first.
    params.cache_ram_mib = RAM_PROMPT_CACHE_MIB
    params.verbosity = _LLAMA_VERBOSITY
    api_key = secrets.token_urlsafe(32)
    params.api_keys = [api_key]
    params.cors_origins = ""
    params.ui = False
    states_dir = _states_directory(options.prompt_states)
    params.endpoint_slots = states_dir is not None
    if states_dir is not None:
        params.slot_save_path = f"{states_dir}{os.sep}"  # llama.cpp appends the file name as it is
    params.endpoint_metrics = False
    params.endpoint_props = False
    started = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # the binding raises plain RuntimeError/ValueError on a bad file
        raise ModelAssetError(f"llama.cpp could not load {options.gguf}: {exc}") from exc
    metrics.MODEL_LOAD_SECONDS.labels(kind="llm", model=options.gguf.name).set(time.perf_counter() - started)
    address = str(server.listening_address)
    log.info(
        "llm_model_loaded",
        gguf=str(options.gguf),
        context=options.context_tokens,
        threads=options.resolved_threads,
        address=address,
    )
    states = None
    if states_dir is not None:
        states = PromptStates(
            directory=states_dir,
            server=server,
            address=address,
            api_key=api_key,
            identity=_state_identity(options),
        )
    return _LoadedServer(server=server, address=address, api_key=api_key, prompt_states=states)


def _states_directory(directory: Path | None) -> Path | None:
    if directory is None:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("llm_prompt_states_off", directory=str(directory), error=repr(exc))
        return None
    return directory.resolve()


def _state_identity(options: EmbeddedOptions) -> str:
    """Everything a saved state is valid for: the engine, the model file, the context, the GPU offload."""
    import xllamacpp

    stat = options.gguf.stat()
    return repr(
        (
            xllamacpp.__version__,
            str(options.gguf.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            options.context_tokens,
            options.gpu_layers,
        )
    )


def loaded_server(options: EmbeddedOptions) -> _LoadedServer:
    """The process-wide server for ``options``, loading the model on first use."""
    with _servers_lock:
        loaded = _servers.get(options)
        if loaded is None:
            loaded = _servers[options] = _load(options)
        return loaded


class EmbeddedLLM:
    name = "embedded"

    def __init__(self, options: EmbeddedOptions, *, model: str | None = None) -> None:
        self.options = options
        self.model = model or options.gguf.name
        self.context_tokens = options.context_tokens
        self._tokenizer_failed = False

    @property
    def listening_address(self) -> str:
        """The loopback URL of llama.cpp's own HTTP server (OpenAI-compatible under ``/v1``)."""
        return loaded_server(self.options).address

    @property
    def api_key(self) -> str:
        """The bearer token that server requires (for tests that call it over HTTP)."""
        return loaded_server(self.options).api_key

    def prepare(self, systems: Sequence[str]) -> bool:
        """Save the prompt state of each of ``systems`` that has none yet; the model is loaded only if one
        is missing. False with ``prompt_states`` off, or when one could not be saved (logged)."""
        directory = self.options.prompt_states
        if directory is None:
            return False
        identity = _state_identity(self.options)
        if all((directory / state_file_name(identity, system)).is_file() for system in systems):
            return True
        states = loaded_server(self.options).prompt_states
        return states is not None and states.prepare(systems)  # None: no directory (logged)

    def complete_json(self, request: JSONRequest) -> str:
        loaded = loaded_server(self.options)
        payload: dict[str, Any] = {
            "messages": chat_messages(request),
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": for_grammar(request.schema, request.foreign_chars),
                },
            },
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        # Runs to completion in this thread: llm.timeout_s cannot interrupt it, max_tokens bounds it instead.
        serving = loaded.prompt_states.serving(request.system) if loaded.prompt_states else nullcontext()
        try:
            with serving:
                body = loaded.server.handle_chat_completions(payload)
        except Exception as exc:
            said = kept_message(str(exc), sent_text(payload))
            raise LLMUnavailableError(f"llama.cpp failed on a chat completion: {said}") from exc
        if not isinstance(body, dict):
            raise LLMUnavailableError("llama.cpp returned something other than a chat completion")
        error = body.get("error")
        if error is not None:
            raise _translate_error(error, sent_text(payload))
        return first_choice_content(body, where="embedded llama.cpp", max_tokens=request.max_tokens)

    def count_tokens(self, text: str) -> int:
        if not self._tokenizer_failed:
            loaded = loaded_server(self.options)
            try:
                response = httpx.post(
                    loaded.address + "/tokenize",
                    json={"content": text},
                    headers={"Authorization": f"Bearer {loaded.api_key}"},
                    timeout=30,
                    trust_env=False,
                )
                response.raise_for_status()
                tokens = response.json()["tokens"]
                if isinstance(tokens, list):
                    return len(tokens)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("llm_tokenizer_unavailable", error=repr(exc))
            self._tokenizer_failed = True
        return estimate_tokens(text)


# What JSON writes escaped: left out of a pattern, the text between the quotes is the string itself.
_ESCAPED_IN_JSON = r'"\\\x00-\x1f\x7f'
# A text kept off the texts a schema's ``not`` lists is a walk along them that leaves them at some depth, then
# a free tail; walks that leave within one band of depths share one tail, bounded for the band's deepest (a
# text that leaves a label halfway may be up to 4 characters shorter than maxLength).
_DEPTH_BAND = 5


def for_grammar(schema: Any, chars: str) -> Any:
    """``schema`` as llama.cpp's grammar should apply it: every free text (a string without an enum or a
    pattern of its own) kept off ``chars``, and a text whose schema has ``not: {enum: [...]}`` kept off those
    texts too (``prompts``: the detail that must not be a topic label), as patterns.

    A pattern bounds the length itself and leaves out what JSON escapes: llama.cpp's converter applies a
    pattern to the raw text between the quotes, and ignores minLength and maxLength next to it
    (docs/benchmarks.md, "Foreign scripts"). Not sent to Ollama or OpenAI-compatible servers, whose support
    of patterns varies (ollama/ollama#8185): ``ask_json`` checks their answers instead.
    """
    if isinstance(schema, list):
        return [for_grammar(item, chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    narrowed = {key: for_grammar(value, chars) for key, value in schema.items() if key != "not"}
    refused = schema.get("not", {}).get("enum", []) if isinstance(schema.get("not"), dict) else []
    free = narrowed.get("type") == "string" and not {"enum", "const", "pattern"} & narrowed.keys()
    if free and (chars or refused):
        least, most = narrowed.get("minLength", 0), narrowed.get("maxLength", "")
        narrowed["pattern"] = _free_text(chars, least, most, [str(text) for text in refused])
    return narrowed


def _free_text(chars: str, least: int, most: int | str, refused: list[str]) -> str:
    allowed = f"[^{_ESCAPED_IN_JSON}{chars}]"
    if not refused or not isinstance(most, int):
        return f"^{allowed}{{{least},{most}}}$"
    # Refused with a full stop too, and whatever their case: "refund request." is still the label.
    trie: dict[str, Any] = {}
    for text in refused:
        for variant in (text, f"{text}."):
            node = trie
            for char in variant.lower()[: most - 1]:  # lower, not casefold: "ß" stays one letter
                node = node.setdefault(char, {})
    deepest = min(max(map(len, refused)) + 1, most)
    branches = []
    # Most texts leave at their first character: that band is that depth alone, and its tail exact.
    for band in [
        range(1),
        *(range(start, min(start + _DEPTH_BAND, deepest)) for start in range(1, deepest, _DEPTH_BAND)),
    ]:
        # Left at depth d in the band: d + 1 characters written, the tail makes up the rest.
        tail = f"{allowed}{{{max(least - band.start - 1, 0)},{most - band.stop}}}"
        leaving = _leaving(trie, 0, band, chars)
        if leaving is not None:
            branches.append(f"{leaving}{tail}")
    return f"^({'|'.join(branches)})$"


def _leaving(node: dict[str, Any], depth: int, band: range, chars: str) -> str | None:
    """Following the trie from ``node`` and leaving it at a depth in ``band`` (None: no way to): a prefix
    of a refused text is refused itself, so every way leaves the trie before the text ends."""
    ways = []
    if depth in band:
        ways.append(f"[^{_ESCAPED_IN_JSON}{chars}{''.join(_cased(char) for char in node)}]")
    if depth + 1 < band.stop:
        for char, child in node.items():
            onwards = _leaving(child, depth + 1, band, chars)
            if onwards is not None:
                ways.append(f"[{_cased(char)}]{onwards}")
    if not ways:
        return None
    return ways[0] if len(ways) == 1 else f"({'|'.join(ways)})"


def _cased(char: str) -> str:
    """``char`` in both cases, escaped for a character class."""
    both = dict.fromkeys(variant for variant in (char.lower(), char.upper()) if len(variant) == 1)
    return "".join(f"\\{variant}" if variant in "\\]^-[" else variant for variant in both)


def _translate_error(error: object, sent: str) -> Exception:
    code, message = 500, str(error)
    if isinstance(error, dict):
        code = error["code"] if isinstance(error.get("code"), int) else 500
        message = str(error.get("message") or error)
    message = kept_message(message, sent)
    if code >= 500:
        return LLMUnavailableError(f"llama.cpp error {code}: {message}")
    # 4xx here means our request is wrong for this model, e.g. larger than llm.context_tokens allows.
    return ConfigError(f"llama.cpp refused the request ({code}): {message}")
