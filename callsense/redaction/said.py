"""What the redaction of a call's turns took out, taken out again wherever text about the call repeats it.

The LLM reads the original turns and writes the summary, topic detail, issues, action items and its
translation from them; Whisper translates from the audio. That text is redacted on its own
(``Redactor.redact_text``), but a value found in the turns by a cue or a context word is often repeated
without it: a surname said after "ich heiße" ("Böhm was unhappy with the delay"), a card that fails Luhn
found because "card" stood near it ("paid with 4111 1111 1111 1112"), a French address in an English
summary. Each value redacted in the turns is therefore redacted wherever it recurs in that text:

- its digits, when it has 6 or more (spoken digits read as in the turns: "four one one one…"), with any
  spaces, dots, dashes or slashes between them, as a number of its own;
- its words as a phrase, in any case, with any punctuation or spacing between them;
- for a name, each of its capitalised words on its own ("Böhm" of "Jürgen Böhm"), in that case only, so
  that a surname "Rose" leaves "prices rose" alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callsense.calls.schemas import Segment
from callsense.redaction.digits import TEXT2NUM_LANGUAGES, normalise
from callsense.redaction.words import EDGE_PUNCTUATION, core

_PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*)\]")
# Fewer digits than this recur too often by chance (an amount, a year, a house number) to be taken out
# wherever they stand; a security code or PIN is still found by its context word.
MIN_DIGITS = 6
_DIGIT_GAP = r"[\s./\-]*"
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")  # "Böhm", "O'Brien", "Marie-Claire"


@dataclass(frozen=True)
class SaidValue:
    """A value redacted in the turns, as the type it was redacted as and the pattern it recurs by."""

    entity: str
    pattern: re.Pattern[str]


@dataclass
class _Span:
    entity: str
    words: list[str]


def said_values(original: list[Segment], redacted: list[Segment], *, language: str | None) -> list[SaidValue]:
    """The values the redaction of ``original`` took out (``redacted`` is its result), most specific first."""
    spoken = (language or "en").split("-")[0].lower()
    spoken = spoken if spoken in TEXT2NUM_LANGUAGES else "en"
    found: dict[tuple[str, str], SaidValue] = {}
    for span in _spans(original, redacted):
        for value in _values(span, spoken):
            found.setdefault((value.entity, value.pattern.pattern), value)
    # A phrase before the words it holds: "Jürgen Böhm" is one placeholder, not two.
    return sorted(found.values(), key=lambda value: len(value.pattern.pattern), reverse=True)


def redact_said(text: str, values: list[SaidValue]) -> str:
    """``text`` with every recurrence of ``values`` replaced by its type in brackets."""
    for value in values:
        text = value.pattern.sub(f"[{value.entity}]", text)
    return text


def _spans(original: list[Segment], redacted: list[Segment]) -> list[_Span]:
    """The original words under each placeholder: the redacted word that carries ``[TYPE]`` and the emptied
    words after it (a placeholder right after one of the same type goes on with it)."""
    spans: list[_Span] = []
    for said, shown in zip(original, redacted, strict=True):
        if len(said.words) != len(shown.words):  # turns without word timings: nothing to line up
            continue
        current: _Span | None = None
        for before, after in zip(said.words, shown.words, strict=True):
            placeholder = _PLACEHOLDER.fullmatch(after.text.strip())
            if before.text == after.text:
                current = None
            elif placeholder is not None and (current is None or current.entity != placeholder[1]):
                current = _Span(placeholder[1], [before.text])
                spans.append(current)
            elif current is not None:
                current.words.append(before.text)
    return spans


def _values(span: _Span, language: str) -> list[SaidValue]:
    values: list[SaidValue] = []
    digits = re.sub(r"\D", "", normalise(span.words, language=language, turn_ends=set(), joined=True).text)
    if len(digits) >= MIN_DIGITS:
        number = _DIGIT_GAP.join(digits)
        values.append(SaidValue(span.entity, re.compile(rf"(?<!\d){number}(?!\d)")))
    words = [word for word in (core(text) for text in span.words) if word]
    if words and any(ch.isalpha() for word in words for ch in word):
        phrase = r"\W+".join(re.escape(word) for word in words)
        values.append(SaidValue(span.entity, re.compile(rf"(?<!\w){phrase}(?!\w)", re.IGNORECASE)))
    if span.entity == "NAME":
        for text in span.words:
            word = text.strip().strip(EDGE_PUNCTUATION)
            if len(word) > 1 and word[0].isupper() and _NAME_WORD.fullmatch(word):
                values.append(SaidValue(span.entity, re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")))
    return values
