"""What the HTTP back-ends (Ollama, OpenAI-compatible) share: one POST with retries and error translation.

Retried: connection failures, timeouts, 5xx, 408 and 429; after the last attempt the call raises
``LLMUnavailableError`` so the job queue can try again later. Not retried: other 4xx, which mean the
request or the configuration is wrong (unknown model, bad API key, schema not supported); they raise
``ConfigError`` with the server's own message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from callsense.errors import ConfigError, LLMUnavailableError

log = structlog.get_logger()

_RETRYABLE_STATUS = frozenset({408, 429})
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits a random time up to initial * 2**n, capped."""

    attempts: int = 4
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    connect_timeout_s: float = 10.0


class _TransientHTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def server_message(response: httpx.Response) -> str:
    """The error text in a body: Ollama's ``{"error": "..."}``, OpenAI's ``{"error": {"message": ...}}``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_MESSAGE_LIMIT] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if isinstance(error, str) and error:
        return error[:_MESSAGE_LIMIT]
    return response.text[:_MESSAGE_LIMIT]


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome
    reason = repr(outcome.exception()) if outcome is not None else "unknown"
    log.warning("llm_request_retry", attempt=state.attempt_number, reason=reason)


def post_json(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    *,
    retry: RetryPolicy,
    backend: str,
) -> dict[str, Any]:
    """POST ``payload`` and return the JSON body of a 2xx answer, retrying what may be transient."""

    def attempt() -> dict[str, Any]:
        try:
            response = client.post(url, json=payload)
        except httpx.UnsupportedProtocol as exc:
            raise ConfigError(f"{backend} base_url {url} is not an http(s) URL") from exc
        if response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS:
            raise _TransientHTTPError(response.status_code, server_message(response))
        if response.status_code >= 400:
            raise ConfigError(
                f"{backend} server at {url} refused the request (HTTP {response.status_code}): "
                f"{server_message(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise LLMUnavailableError(
                f"{backend} server at {url} answered with a body that is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise LLMUnavailableError(f"{backend} server at {url} answered with unexpected JSON")
        return body

    retrying = Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_random_exponential(multiplier=retry.initial_wait_s, max=retry.max_wait_s),
        retry=retry_if_exception_type((*_TRANSIENT, _TransientHTTPError)),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except (*_TRANSIENT, _TransientHTTPError) as exc:
        raise LLMUnavailableError(
            f"{backend} server at {url} did not answer after {retry.attempts} attempts: {exc!r}"
        ) from exc


def make_client(
    *, timeout_s: float, retry: RetryPolicy, headers: dict[str, str] | None = None
) -> httpx.Client:
    # trust_env=False: a proxy variable must not route call transcripts through a third party.
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=retry.connect_timeout_s),
        headers=headers or {},
        trust_env=False,
    )
