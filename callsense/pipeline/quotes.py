"""Checking the quotes an LLM cites against the transcript: a quote that is not in it is dropped.

A quote matches a turn when, once both are normalised (folded as ``textmatch.fold`` does: case, accents,
Arabic and Hebrew vowel marks; punctuation removed, whitespace collapsed, and dropped between characters of
scripts written without spaces), the quote occurs in the turn's text as whole words; in Chinese, Japanese or
Thai, where words are not spaced, and in Korean, which joins particles and endings to words, any run of
characters is a match. What is kept is the turn's own text for
the matched stretch, never the model's wording, so a shown quote is always what the transcript says.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from callsense.calls import textmatch
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
    space_at: int | None = None  # a space waiting for the next character: kept between spaced words only
    for index, char in enumerate(text):
        for part in textmatch.fold(char):
            if unicodedata.category(part).startswith("P"):
                continue  # "refund," matches "refund" and "don't" matches "dont"
            if part.isspace():
                space_at = index if folded and space_at is None else space_at
                continue
            if space_at is not None and not (textmatch.unspaced(folded[-1]) or textmatch.unspaced(part)):
                folded.append(" ")
                origin.append(space_at)
            space_at = None
            folded.append(part)
            origin.append(index)
    return _Folded("".join(folded), origin)


def _bounded(text: str, at: int, end: int) -> bool:
    """Whether ``text[at:end]`` is whole words: a space or a character of an unspaced script or Korean (which
    joins particles to words) either side."""

    def boundary(left: int, right: int) -> bool:
        return (
            left < 0
            or right >= len(text)
            or " " in (text[left], text[right])
            or any(textmatch.by_character(text[i]) for i in (left, right))
        )

    return boundary(at - 1, at) and boundary(end - 1, end)


def _span(quote: str, turn_text: str) -> str | None:
    """The stretch of ``turn_text`` that ``quote`` matches, or None when it is not there."""
    needle = _fold(quote).text
    if not needle:
        return None
    haystack = _fold(turn_text)
    # Whole words only: "fun" must not be found inside "refund".
    at = haystack.text.find(needle)
    while at >= 0 and not _bounded(haystack.text, at, at + len(needle)):
        at = haystack.text.find(needle, at + 1)
    if at < 0:
        return None
    first, last = haystack.origin[at], haystack.origin[at + len(needle) - 1]
    while last + 1 < len(turn_text) and unicodedata.category(turn_text[last + 1]).startswith("M"):
        last += 1  # the marks on the last letter, dropped when folding, belong to the quote
    return _closed(turn_text, first, last)


def _closed(turn_text: str, first: int, last: int) -> str:
    """The stretch widened over the brackets it opens or closes (punctuation is not matched): a redacted
    name is quoted "[NAME]", never "[NAME" (or "NAME]" when the quote begins with it)."""

    def unclosed(stretch: str) -> int:
        kinds = [unicodedata.category(char) for char in stretch]
        return sum(kind in ("Ps", "Pi") for kind in kinds) - sum(kind in ("Pe", "Pf") for kind in kinds)

    while last + 1 < len(turn_text) and unicodedata.category(turn_text[last + 1]) in ("Pe", "Pf"):
        if unclosed(turn_text[first : last + 1]) <= 0:
            break
        last += 1
    while first > 0 and unicodedata.category(turn_text[first - 1]) in ("Ps", "Pi"):
        if unclosed(turn_text[first : last + 1]) >= 0:
            break
        first -= 1
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
