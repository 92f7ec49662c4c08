"""Ollama back-end: ``POST /api/chat`` with the JSON schema as ``format`` (Ollama turns it into a grammar)."""

from __future__ import annotations

from typing import Any

import structlog

from callsense.backends.llm.base import JSONRequest, chat_messages
from callsense.backends.llm.http import HTTPBackend, post_json
from callsense.backends.llm.openai_compat import no_answer_after_reasoning
from callsense.errors import LLMUnavailableError

log = structlog.get_logger()


class OllamaBackend(HTTPBackend):
    name = "ollama"
    path = "/api/chat"

    def complete_json(self, request: JSONRequest) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
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
        body = post_json(
            self._client, self._url, payload, backend=self.name, context_tokens=self.context_tokens
        )
        message = body.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise LLMUnavailableError(f"ollama server at {self._url} answered without message.content")
        if not content.strip() and isinstance(message, dict) and message.get("thinking"):
            raise no_answer_after_reasoning(f"ollama server at {self._url}", request.max_tokens)
        if body.get("done_reason") == "length":
            log.warning("llm_answer_truncated", backend=self.name, max_tokens=request.max_tokens)
        return content
