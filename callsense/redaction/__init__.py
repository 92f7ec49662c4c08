"""Personal data out of what a call stores: the port the pipeline redacts through.

``Redactor`` finds payment cards, phone numbers, e-mails, names, addresses and the other entity types of
``config/redaction.py`` in a call's turns (spoken digits normalised first, hits mapped back onto Whisper's
words) and in free text (the analysis's summary, issues, action items). ``engine.py`` is the Presidio
implementation; ``fake.py`` a fake for tests of the stages around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from callsense.calls.schemas import Segment, Speaker


@dataclass(frozen=True)
class RedactedSpan:
    """One redacted stretch of a turn: words ``first_word``..``last_word`` (inclusive) of
    ``segments[segment]``, spoken from ``start`` to ``end`` seconds by ``speaker``; ``entity`` is the type,
    e.g. ``CARD_NUMBER``."""

    segment: int
    first_word: int
    last_word: int
    start: float
    end: float
    speaker: Speaker
    entity: str


@dataclass(frozen=True)
class Redaction:
    """A call's turns with every hit replaced by its type in brackets (``[CARD_NUMBER]``) in ``text`` and in
    the words (the first word of a span carries the placeholder, the others become empty), the spans, and
    the entity types that were looked for in this language."""

    segments: list[Segment]
    spans: list[RedactedSpan]
    checked: list[str] = field(default_factory=list)


class Redactor(Protocol):
    def redact_segments(self, segments: list[Segment], *, language: str | None) -> Redaction: ...

    def redact_text(self, text: str, *, language: str | None) -> str:
        """``text`` with every hit replaced by its type in brackets."""
        ...
