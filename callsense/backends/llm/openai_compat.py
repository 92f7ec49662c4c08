"""OpenAI-compatible back-end: ``POST {base_url}/chat/completions`` with a strict ``json_schema`` format.

For self-hosted servers (vLLM, the llama.cpp server, LM Studio); ``base_url`` ends in ``/v1``. The schema uses
``maxLength``, which these servers enforce; OpenAI's hosted strict mode may refuse it (that is a 400, reported
as a ``ConfigError``), and sending call transcripts to a hosted API is not what callsense is for anyway.
"""

from __future__ import annotations

from typing import Any

import structlog

from callsense.backends.llm.base import JSONRequest, chat_messages, server_schema
from callsense.backends.llm.http import HTTPBackend, post_json
from callsense.errors import ConfigError, LLMUnavailableError

log = structlog.get_logger()


class OpenAICompatBackend(HTTPBackend):
    name = "openai"
    path = "/chat/completions"

    def complete_json(self, request: JSONRequest) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": server_schema(request.schema),
                    "strict": True,
                },
            },
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": False,
        }
        body = post_json(
            self._client, self._url, payload, backend=self.name, context_tokens=self.context_tokens
        )
        return first_choice_content(
            body, where=f"openai server at {self._url}", max_tokens=request.max_tokens
        )


def first_choice_content(body: dict[str, Any], *, where: str, max_tokens: int) -> str:
    """``choices[0].message.content`` of a chat completion (also the shape xllamacpp returns in-process)."""
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        if isinstance(message, dict) and (message.get("reasoning_content") or message.get("reasoning")):
            raise no_answer_after_reasoning(where, max_tokens)
        raise LLMUnavailableError(f"{where} answered without choices[0].message.content")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        log.warning("llm_answer_truncated", where=where, max_tokens=max_tokens)
    return content


def no_answer_after_reasoning(where: str, max_tokens: int) -> ConfigError:
    """A reasoning model (vLLM's --reasoning-parser, Ollama's thinking) that spent the whole answer budget
    thinking: asking again spends it the same way, so this is a permanent error naming the cause."""
    return ConfigError(
        f"{where}: the model reasoned and wrote no answer within max_tokens={max_tokens}; use a model that "
        "answers without reasoning first, or turn its reasoning off on the server"
    )
