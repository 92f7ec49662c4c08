"""A scripted LLM for unit tests: answers from a list or a function, and records every request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from callsense.backends.llm.base import JSONRequest

Answerer = Callable[[JSONRequest], str]


class FakeLLM:
    """Returns the scripted answers in order (or what ``answer(request)`` returns); fails when they run out.

    Tokens are counted as whitespace-separated words, so tests can size context windows by hand.
    """

    name = "fake"

    def __init__(
        self,
        answers: Iterable[str] | Answerer,
        *,
        model: str = "fake-model",
        context_tokens: int = 4096,
    ) -> None:
        self.model = model
        self.context_tokens = context_tokens
        self.requests: list[JSONRequest] = []
        self._answer: Answerer | None = answers if callable(answers) else None
        self._script: list[str] = [] if callable(answers) else list(answers)

    def complete_json(self, request: JSONRequest) -> str:
        self.requests.append(request)
        if self._answer is not None:
            return self._answer(request)
        if not self._script:
            raise AssertionError(f"FakeLLM ran out of scripted answers after {len(self.requests) - 1} calls")
        return self._script.pop(0)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prepare(self, systems: Sequence[str]) -> bool:
        return True  # nothing to evaluate ahead
