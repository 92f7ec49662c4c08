"""Checking the quotes an LLM cites against the transcript: a quote that is not in it is dropped.

A quote matches a turn when, once both are normalised (Unicode NFKC, case folded, punctuation removed,
whitespace collapsed), the quote occurs in the turn's text. What is kept is the turn's own text for the
matched stretch, never the model's wording, so a shown quote is always what the transcript says.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from callsense.calls.schemas import Segment


@dataclass(frozen=True)
class CitedQuote:
    """What the model cited: a turn's index (as in the record's ``segments``) and the words it quoted."""

    turn: int
    text: str


@dataclass(frozen=True)
class CheckedQuote:
    """A quote found in the transcript: the turn it is in, when that turn starts, who said it, and the
    matched stretch of the turn's text, verbatim."""

    turn: int
    start: float
    speaker: str
    text: str


@dataclass(frozen=True)
class _Folded:
    text: str
    origin: list[int]
    """For each character of ``text``, its index in the original string."""


def _fold(text: str) -> _Folded:
    """``text`` normalised for matching, with a map back to the original characters."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKC", char).casefold():
            if unicodedata.category(part).startswith("P"):
                continue  # "refund," matches "refund" and "don't" matches "dont"
            if part.isspace():
                if not folded or folded[-1] == " ":
                    continue
                part = " "
            folded.append(part)
            origin.append(index)
    while folded and folded[-1] == " ":
        folded.pop()
        origin.pop()
    return _Folded("".join(folded), origin)


def _span(quote: str, turn_text: str) -> str | None:
    """The stretch of ``turn_text`` that ``quote`` matches, or None when it is not there."""
    needle = _fold(quote).text
    if not needle:
        return None
    haystack = _fold(turn_text)
    # Whole words only: "fun" must not be found inside "refund".
    padded = f" {haystack.text} "
    at = padded.find(f" {needle} ")
    if at < 0:
        return None
    first, last = haystack.origin[at], haystack.origin[at + len(needle) - 1]
    return turn_text[first : last + 1]


def check_quotes(cited: list[CitedQuote], segments: list[Segment]) -> tuple[list[CheckedQuote], int]:
    """The cited quotes found in the transcript (in the order cited, without repeats), and how many were
    dropped. A quote not in the turn it names but in exactly one other turn is kept for that turn: the
    words are the transcript's, only the model's count of turns slipped. A quote found nowhere, or in
    several other turns (which one was meant is unknown), is dropped."""
    kept: list[CheckedQuote] = []
    for quote in cited:
        found = _locate(quote, segments)
        if found is not None and found not in kept:
            kept.append(found)
    return kept, len(cited) - len(kept)


def _locate(quote: CitedQuote, segments: list[Segment]) -> CheckedQuote | None:
    if 0 <= quote.turn < len(segments):
        span = _span(quote.text, segments[quote.turn].text)
        if span is not None:
            return _checked(quote.turn, segments[quote.turn], span)
    elsewhere = [
        (index, span)
        for index, segment in enumerate(segments)
        if index != quote.turn and (span := _span(quote.text, segment.text)) is not None
    ]
    if len(elsewhere) != 1:
        return None
    index, span = elsewhere[0]
    return _checked(index, segments[index], span)


def _checked(index: int, segment: Segment, span: str) -> CheckedQuote:
    return CheckedQuote(turn=index, start=segment.start, speaker=segment.speaker.value, text=span)
