"""Asking for JSON and keeping only what validates: one retry, then a field-by-field salvage.

Small models, servers that ignore the schema and answers cut off by ``max_tokens`` all produce text that is
not quite the requested object. ``ask_json`` validates each field on its own, retries once with the problems
pointed out, and returns the valid fields of both attempts plus a reason for every field still missing.
Reasons name the field and the rule broken, never the text the model wrote (it may quote the transcript).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError

from callsense.backends.llm.base import JSONRequest, LLMBackend

log = structlog.get_logger()

_WHITESPACE = re.compile(r"\s*")
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")  # \u0000 after an even run of backslashes
_NOTE_LIMIT = 400  # characters of problems quoted back to the model on the retry
FOREIGN_SCRIPT = "it holds characters of a script the call is not written in: write it in English"
CUT_OFF = "the answer stopped before its JSON object was complete: it was too long, keep every text short"


@dataclass(frozen=True)
class Answer:
    values: dict[str, Any]
    """Field name → validated value."""
    problems: dict[str, str]
    """Field name → why no valid value was obtained."""


def ask_json(
    llm: LLMBackend, request: JSONRequest, fields: dict[str, TypeAdapter[Any]], *, what: str
) -> Answer:
    """Ask, validate, and retry once if any field is invalid; never raises for a bad answer."""
    foreign = re.compile(f"[{request.foreign_chars}]") if request.foreign_chars else None
    first = parse_answer(llm.complete_json(request), fields, foreign=foreign)
    if not first.problems:
        return first
    log.warning("llm_answer_invalid", what=what, attempt=1, fields=sorted(first.problems))
    retry = replace(request, user=request.user + retry_note(first.problems))
    second = parse_answer(llm.complete_json(retry), fields, foreign=foreign)
    # Both answers come from the model for the same input; the later one (told what was wrong) wins.
    values = {**first.values, **second.values}
    problems = {field: reason for field, reason in second.problems.items() if field not in values}
    if problems:
        log.warning("llm_answer_invalid", what=what, attempt=2, fields=sorted(problems))
    return Answer(values=values, problems=problems)


def retry_note(problems: dict[str, str]) -> str:
    """Appended to the user message: the first prompt stays a prefix the server can reuse from its cache."""
    distinct = list(dict.fromkeys(problems.values()))
    if len(distinct) == 1 and len(problems) > 1:
        described = distinct[0]
    else:
        described = "; ".join(f"{field}: {reason}" for field, reason in problems.items())
    return (
        f"\n\nYour previous answer was rejected ({described[:_NOTE_LIMIT]}). "
        "Answer again with one JSON object that follows the schema exactly."
    )


def parse_answer(
    raw: str, fields: dict[str, TypeAdapter[Any]], *, foreign: re.Pattern[str] | None = None
) -> Answer:
    """The valid fields of ``raw``; a field with a text that holds one of the ``foreign`` characters is
    invalid (rejected rather than cut out of the text, which would leave a gap that reads as the model's)."""
    data = _json_object(_without_nul(raw))
    if isinstance(data, str):
        return Answer(values={}, problems=dict.fromkeys(fields, data))
    # An answer cut by max_tokens: the retry note must ask for a shorter one, or it is cut the same way.
    missing = CUT_OFF if _breaks_off(raw) else "missing from the answer"
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field, adapter in fields.items():
        if field not in data:
            problems[field] = missing
            continue
        if foreign is not None and any(foreign.search(text) for text in _texts(data[field])):
            problems[field] = FOREIGN_SCRIPT
            continue
        try:
            values[field] = adapter.validate_python(data[field])
        except ValidationError as exc:
            problems[field] = _describe(exc)
    return Answer(values=values, problems=problems)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _texts(item)


def _describe(exc: ValidationError) -> str:
    # loc + msg only: pydantic's str(exc) would include the offending input.
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def _without_nul(raw: str) -> str:
    """``raw`` without NUL, written as such or as JSON's ``\\u0000``: PostgreSQL text cannot hold it, and an
    analysis quoting it would fail its stage on every retry."""
    return _NUL_ESCAPE.sub(r"\1", raw.replace("\x00", ""))


def _breaks_off(raw: str) -> bool:
    """Whether ``raw`` ends inside a JSON object: the model ran out of ``max_tokens`` mid-answer."""
    start = raw.find("{")
    if start < 0:
        return False
    try:
        json.JSONDecoder().raw_decode(raw, start)
    except json.JSONDecodeError as exc:
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(raw.rstrip())
    return False


def _json_object(raw: str) -> dict[str, Any] | str:
    """The object in ``raw``, or the reason there is none."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        complete = complete_pairs(raw)
        if complete:
            return complete
        if _breaks_off(raw):
            return CUT_OFF
        return f"the answer is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(data, dict):
        return f"the answer is a JSON {type(data).__name__}, not an object"
    return data


def complete_pairs(raw: str) -> dict[str, Any]:
    """The key/value pairs of the first JSON object in ``raw`` that are complete before it breaks off.

    Recovers the fields of an answer cut by ``max_tokens``, wrapped in Markdown fences, or followed by
    chatter; a pair that is itself broken, and everything after it, is dropped.
    """
    decoder = json.JSONDecoder()
    pairs: dict[str, Any] = {}
    position = raw.find("{") + 1
    if position == 0:
        return pairs
    try:
        while True:
            key, position = decoder.raw_decode(raw, _skip(raw, position))
            position = _skip(raw, position)
            if not isinstance(key, str) or raw[position] != ":":
                break
            value, position = decoder.raw_decode(raw, _skip(raw, position + 1))
            pairs[key] = value
            position = _skip(raw, position)
            if raw[position] != ",":
                break
            position += 1
    except (json.JSONDecodeError, IndexError):
        pass
    return pairs


def _skip(raw: str, position: int) -> int:
    match = _WHITESPACE.match(raw, position)
    return match.end() if match else position
