"""The LLM port: one JSON-constrained chat call and a token count.

Every back-end (embedded llama.cpp, Ollama, OpenAI-compatible servers, the test fake) answers the same
``JSONRequest`` with the raw text the model produced. Parsing and validating that text is the caller's job
(``callsense.pipeline.analysis``), so one validation path covers every back-end, including servers that
ignore the schema.

Errors: a back-end raises ``LLMUnavailableError`` when a later attempt may succeed (server down, timeout,
5xx) and ``ConfigError``/``ModelAssetError`` when it cannot (wrong model name, refused request, bad GGUF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class JSONRequest:
    """One chat call whose answer must be a JSON document following ``schema``."""

    system: str
    user: str
    schema: dict[str, Any]
    schema_name: str
    max_tokens: int
    temperature: float = 0.0
    foreign_chars: str = ""
    """Characters no text of the answer may hold, as the body of a regular-expression character class (the
    scripts the call is not written in: ``prompts.foreign_chars``). The embedded back-end's grammar cannot
    write them; an answer from another back-end that holds them is rejected by ``ask_json``."""


@runtime_checkable
class LLMBackend(Protocol):
    @property
    def name(self) -> str:
        """ "embedded", "ollama", "openai" or "fake"."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def context_tokens(self) -> int:
        """Prompt plus answer must fit in this many tokens."""
        ...

    def complete_json(self, request: JSONRequest) -> str:
        """The raw text the model produced (normally JSON, never trusted to be)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in a prompt; server back-ends return a conservative estimate."""
        ...

    def prepare(self, systems: Sequence[str]) -> bool:
        """Make the first request with each of these instructions as fast as later ones: the embedded
        back-end saves their prompt states ahead (``prompt_states.py``); a server keeps its own cache.
        False when they could not be made ready (the reason is logged)."""
        ...


# Chat templates wrap each message in role markers; this covers Qwen/Llama/Mistral templates amply.
CHAT_TEMPLATE_OVERHEAD_TOKENS = 32


def estimate_tokens(text: str) -> int:
    """An over-estimate of the tokens ``text`` needs, for back-ends that expose no tokenizer.

    BPE vocabularies of current models average about 4 characters per token on English and 3 on other
    Latin-script languages; one token per 3 UTF-8 bytes over-counts those, and roughly matches CJK text
    (3 bytes a character, about one token each). Over-counting only makes chunks smaller; under-counting
    would overflow the context.
    """
    return len(text.encode("utf-8")) // 3 + 1


def server_schema(schema: Any) -> Any:
    """``schema`` as a server gets it: without ``not``, which the embedded back-end turns into a pattern of
    its grammar but OpenAI's strict mode, and grammars of other servers, refuse; ``ask_json``'s validators
    check what it says. (No property of ours is called "not".)"""
    if isinstance(schema, list):
        return [server_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: server_schema(value) for key, value in schema.items() if key != "not"}


def chat_messages(request: JSONRequest) -> list[dict[str, str]]:
    """The request as chat messages, as every back-end sends it: the instructions, then the transcript."""
    return [{"role": "system", "content": request.system}, {"role": "user", "content": request.user}]
