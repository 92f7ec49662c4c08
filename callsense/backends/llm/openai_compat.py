"""OpenAI-compatible back-end: ``POST {base_url}/chat/completions`` with a strict ``json_schema`` format.

For self-hosted servers (vLLM, the llama.cpp server, LM Studio); ``base_url`` ends in ``/v1``. The schema uses
``maxLength``, which these servers enforce; OpenAI's hosted strict mode may refuse it (that is a 400, reported
as a ``ConfigError``), and sending call transcripts to a hosted API is not what callsense is for anyway.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from callsense.backends.llm.base import JSONRequest, estimate_tokens
from callsense.backends.llm.http import CONNECT_TIMEOUT_S, make_client, post_json
from callsense.errors import LLMUnavailableError

log = structlog.get_logger()


class OpenAICompatBackend:
    name = "openai"

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
        self._url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or make_client(
            timeout_s=timeout_s, connect_timeout_s=connect_timeout_s, headers=headers
        )

    def complete_json(self, request: JSONRequest) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            },
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": False,
        }
        body = post_json(self._client, self._url, payload, backend=self.name)
        return first_choice_content(
            body, where=f"openai server at {self._url}", max_tokens=request.max_tokens
        )

    def count_tokens(self, text: str) -> int:
        # /tokenize exists on vLLM and llama.cpp but is not part of the OpenAI API; over-estimate instead.
        return estimate_tokens(text)

    def close(self) -> None:
        self._client.close()


def first_choice_content(body: dict[str, Any], *, where: str, max_tokens: int) -> str:
    """``choices[0].message.content`` of a chat completion (also the shape xllamacpp returns in-process)."""
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise LLMUnavailableError(f"{where} answered without choices[0].message.content")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        log.warning("llm_answer_truncated", where=where, max_tokens=max_tokens)
    return content
