"""What the HTTP back-ends (Ollama, OpenAI-compatible) share: one POST, and error translation.

One call is one try; the job queue retries the analyse stage (``RETRY``), so a server that is down costs
a wait in the queue, not a worker sleeping here; ``timeout_s`` bounds the whole answer, not only each read
(``http_deadline.py``). Connection failures, timeouts, 5xx, 408 and 429 raise ``LLMUnavailableError``
(retryable) at once, with the server's ``Retry-After`` when it sent one: a shared, rate-limited server that
says when to come back is not asked again sooner (``retries.Backoff``). The one exception: when the server
drops the connection without an answer (reset, or closed while the request was being sent), the request is
sent once more at once. That is what a pooled keep-alive connection looks like when the server closed it just
as it was reused: the request never reached the model, and failing the stage for it would cost a queue
backoff and the stage's earlier LLM calls. Not retried: other 4xx, which mean the request or the
configuration is wrong (unknown model, bad API key, schema not supported); they raise ``ConfigError`` with
the server's own message. So does a prompt the server says is longer than its context, whatever the status
(older llama.cpp servers answer it with a 500): the same prompt can never fit, and the error names
``llm.context_tokens``, the setting that sized it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from callsense.backends.http_deadline import DeadlineTransport
from callsense.backends.http_status import ERROR_NAME, is_retryable, retry_after_s
from callsense.backends.llm.base import estimate_tokens
from callsense.errors import ConfigError, LLMUnavailableError

log = structlog.get_logger()

_UNAVAILABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# The connection was dropped before any answer: sent once more (see the module docstring).
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# A server's message is cut to this: enough for "model 'x' not found", little of a quote.
_MESSAGE_LIMIT = 200
_WORD = re.compile(r"\w+")
# A word after a word or a comma: its capital is a name's, not a sentence's or a turn's ("[3] Agent: Hi").
# Only a name's form counts ("Schneider", not "JSON": the prompt asks for JSON, and servers name it).
_NAME = re.compile(r"(?<=[\w,;])[ \t]+(\w+)")
# What a message puts in quotes, as servers quote a value they were sent; an apostrophe inside a word
# ("model's") opens nothing.
_OPENS, _CLOSES = "'\"`\u2018\u201c\u00ab", "'\"`\u2019\u201d\u00bb"
_QUOTED = re.compile(rf"(?<!\w)[{_OPENS}]([^{_CLOSES}]{{1,80}})[{_CLOSES}](?!\w)")
CONNECT_TIMEOUT_S = 10.0
# How vLLM ("maximum context length is 4096 tokens", "longer than the maximum model length"), the llama.cpp
# server ("exceeds the available context size"), OpenAI ("context_length_exceeded") and Ollama ("exceeds the
# context length") word a prompt that does not fit.
_CONTEXT_OVERFLOW = re.compile(
    r"context (length|size|window)|context_length_exceeded|maximum model length", re.IGNORECASE
)


def server_message(response: httpx.Response, sent: str) -> str:
    """What the server says of its error: Ollama's ``{"error": "..."}``, OpenAI's ``{"error": {"message",
    "type", "code"}}`` (its type and code first), else the body (a proxy's HTML page), as ``kept_message``
    keeps it, for the one-line errors of the CLI and a call's status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    # Older vLLM answers {"object": "error", "message": ...}.
    error = (body.get("error") or body.get("message")) if isinstance(body, dict) else None
    names: list[str] = []
    if isinstance(error, dict):
        names = [str(error[k]) for k in ("type", "code") if isinstance(error.get(k), str | int)]
        names = [name for name in names if ERROR_NAME.fullmatch(name)]
        error = error.get("message")
    text = error if isinstance(error, str) and error else response.text
    return " ".join([*names, kept_message(text, sent)]).strip() or response.reason_phrase


def kept_message(text: str, sent: str) -> str:
    """A server's message on one line, cut short, unless it quotes ``sent`` (the words of the call
    the request carried): a server that echoes the request would put the transcript in a call's status and
    the log. Left out when it shares with what was sent two words in a row, a number of three digits or more,
    a word it puts in quotes ("invalid token 'Schneider'"), or a name: a word the call writes capitalised
    where no sentence or turn begins ("unknown speaker Schneider"). A single common word of the call
    ("model", "not") is no echo: a long call holds most of the words of any error message
    (docs/redaction.md)."""
    kept = " ".join(text.split())[:_MESSAGE_LIMIT]
    words = _WORD.findall(kept.lower())
    said = _WORD.findall(sent.lower())
    values = {word for word in said if sum(c.isdigit() for c in word) >= 3}
    values.update(word.lower() for word in _NAME.findall(sent) if word.istitle() and len(word) > 1)
    values.intersection_update(words)
    quoted = {word for span in _QUOTED.findall(kept.lower()) for word in _WORD.findall(span)}
    if set(itertools.pairwise(said)).intersection(itertools.pairwise(words)) or values or quoted & set(said):
        return "(its message quotes the request: left out)"
    return kept


def sent_text(payload: dict[str, Any]) -> str:
    """What a chat request carries of the call: its messages but the instructions."""
    messages = payload.get("messages")
    return " ".join(
        str(m.get("content", ""))
        for m in (messages if isinstance(messages, list) else [])
        if isinstance(m, dict) and m.get("role") != "system"
    )


def post_json(
    client: httpx.Client, url: str, payload: dict[str, Any], *, backend: str, context_tokens: int
) -> dict[str, Any]:
    """POST ``payload`` and return the JSON body of a 2xx answer; ``context_tokens`` is what the prompt was
    sized for, named when the server refuses it as too long."""
    try:
        try:
            response = client.post(url, json=payload)
        except _DROPPED as exc:
            log.warning("llm_connection_dropped", backend=backend, error=repr(exc))
            response = client.post(url, json=payload)
    except httpx.UnsupportedProtocol as exc:
        raise ConfigError(f"{backend} base_url {url} is not an http(s) URL") from exc
    except _UNAVAILABLE as exc:
        raise LLMUnavailableError(f"{backend} server at {url} did not answer: {exc!r}") from exc
    said = server_message(response, sent_text(payload)) if response.status_code >= 400 else ""
    if response.status_code >= 400 and _CONTEXT_OVERFLOW.search(said):
        raise ConfigError(
            f"{backend} server at {url} refused the prompt as longer than its context "
            f"(HTTP {response.status_code}): {said}; the prompt was sized for "
            f"llm.context_tokens={context_tokens}: set it to the context the server runs the model with "
            "(vLLM --max-model-len, llama.cpp server --ctx-size per slot)"
        )
    if is_retryable(response.status_code):
        raise LLMUnavailableError(
            f"{backend} server at {url} answered HTTP {response.status_code}: {said}",
            retry_after=retry_after_s(response),
        )
    if response.status_code >= 400:
        raise ConfigError(
            f"{backend} server at {url} refused the request (HTTP {response.status_code}): {said}"
            + ("; check llm.model and llm.base_url" if response.status_code == 404 else "")
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise LLMUnavailableError(f"{backend} server at {url} answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise LLMUnavailableError(f"{backend} server at {url} answered with unexpected JSON")
    return body


def make_client(
    *, timeout_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S, headers: dict[str, str] | None = None
) -> httpx.Client:
    # trust_env=False: a proxy variable must not route call transcripts through a third party.
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        headers=headers or {},
        trust_env=False,
        transport=DeadlineTransport(timeout_s, httpx.HTTPTransport()),  # timeout_s bounds the whole answer
    )


class HTTPBackend:
    """What the HTTP back-ends hold: the model, its context size, the endpoint (``base_url`` + ``path``) and
    a client. Neither Ollama nor the OpenAI API counts tokens, so both over-estimate: chunks always fit."""

    name: str
    path: str

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        context_tokens: int,
        timeout_s: float,
        api_key: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        client: httpx.Client | None = None,
    ) -> None:
        self.model = model
        self.context_tokens = context_tokens
        self._url = base_url.rstrip("/") + self.path
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = client or make_client(
            timeout_s=timeout_s, connect_timeout_s=connect_timeout_s, headers=headers
        )

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def prepare(self, systems: Sequence[str]) -> bool:
        """Nothing to do: the server keeps its own prompt cache."""
        return True

    def close(self) -> None:
        self._client.close()
