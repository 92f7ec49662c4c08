"""Ollama back-end: ``POST /api/chat`` with the JSON schema as ``format`` (Ollama turns it into a grammar).

Ollama does not refuse a prompt longer than the context it runs the model with: it drops tokens from the
prompt's start (all but its first few: the instructions go), answers as if nothing happened, and logs
"truncating input prompt" on its side. ``llm.context_tokens`` is sent as ``num_ctx``, but Ollama lowers
that to the model's trained context, and a server in front of Ollama may drop the option. What gives it
away is ``prompt_eval_count``, the tokens it read: fewer than any tokenizer makes of the prompt's text. That
is a warning naming the setting, not a failure: Ollama releases differ on whether the count includes the
prompt's start read from its cache (the instructions, the same on every call), and a cache hit would look
like a cut.
"""

from __future__ import annotations

from typing import Any

import structlog

from callsense.backends.llm.base import JSONRequest, chat_messages, server_schema
from callsense.backends.llm.http import HTTPBackend, post_json
from callsense.backends.llm.openai_compat import no_answer_after_reasoning
from callsense.errors import LLMUnavailableError

log = structlog.get_logger()
# More characters than any tokenizer puts in one token on average over a prompt's text: about 4 on English,
# 3 on other Latin-script languages, fewer on Cyrillic and CJK. A prompt read in fewer tokens than its
# characters over this was cut; one cut by less goes unnoticed.
_MOST_CHARS_PER_TOKEN = 6


class OllamaBackend(HTTPBackend):
    name = "ollama"
    path = "/api/chat"

    def complete_json(self, request: JSONRequest) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
            "format": server_schema(request.schema),
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
        self._warn_of_a_cut_prompt(body.get("prompt_eval_count"), request)
        message = body.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise LLMUnavailableError(f"ollama server at {self._url} answered without message.content")
        if not content.strip() and isinstance(message, dict) and message.get("thinking"):
            raise no_answer_after_reasoning(f"ollama server at {self._url}", request.max_tokens)
        if body.get("done_reason") == "length":
            log.warning("llm_answer_truncated", backend=self.name, max_tokens=request.max_tokens)
        return content

    def _warn_of_a_cut_prompt(self, read: object, request: JSONRequest) -> None:
        least = (len(request.system) + len(request.user)) // _MOST_CHARS_PER_TOKEN
        if isinstance(read, int) and not isinstance(read, bool) and 0 < read < least:
            log.warning(
                "llm_prompt_maybe_cut",
                backend=self.name,
                read_tokens=read,
                prompt_tokens_at_least=least,
                context_tokens=self.context_tokens,
                advice="unless Ollama read the rest from its cache, it cut the prompt to a context smaller "
                "than llm.context_tokens (sent as num_ctx; Ollama lowers it to the model's trained context): "
                "set llm.context_tokens to at most the context `ollama show` lists",
            )
