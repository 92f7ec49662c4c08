"""Ollama back-end: ``POST /api/chat`` with the JSON schema as ``format`` (Ollama turns it into a grammar)."""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from callsense.backends.llm.base import JSONRequest, estimate_tokens
from callsense.backends.llm.http import CONNECT_TIMEOUT_S, make_client, post_json
from callsense.errors import LLMUnavailableError

log = structlog.get_logger()


class OllamaBackend:
    name = "ollama"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        context_tokens: int,
        timeout_s: float,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        client: httpx.Client | None = None,
    ) -> None:
        self.model = model
        self.context_tokens = context_tokens
        self._url = base_url.rstrip("/") + "/api/chat"
        self._client = client or make_client(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)

    def complete_json(self, request: JSONRequest) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "format": request.schema,
            "stream": False,
            "options": {
                "temperature": request.temperature,
                "num_predict": request.max_tokens,
                # Ollama's default context (2048 or 4096 depending on version) silently truncates the start
                # of longer prompts; the analyse stage sizes its chunks for context_tokens, so ask for that.
                "num_ctx": self.context_tokens,
            },
        }
        body = post_json(self._client, self._url, payload, backend=self.name)
        message = body.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise LLMUnavailableError(f"ollama server at {self._url} answered without message.content")
        if body.get("done_reason") == "length":
            log.warning("llm_answer_truncated", backend=self.name, max_tokens=request.max_tokens)
        return content

    def count_tokens(self, text: str) -> int:
        # Ollama has no tokenize endpoint; over-estimate so chunks always fit num_ctx.
        return estimate_tokens(text)

    def close(self) -> None:
        self._client.close()
