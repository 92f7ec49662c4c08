"""A card number Whisper heard with one group of four digits twice.

A caller reading "five five five five, five five five five, five five five five, four four four four" is
written by whisper-base now and then as "55555555555555554444": a group said twice in a row becomes three
times, twenty digits that fail Luhn, with no "card" said to find them by (the bench's English card missed
in every layout). Such a number is a card when taking one of two equal groups in a row out of it leaves a
number of a card's length, a card's first digit and a valid Luhn checksum.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

_GROUP = 4
_CARD_LENGTHS = range(13, 20)


def _without_a_repeated_group(digits: str) -> Iterator[str]:
    """``digits`` less one of two equal groups of four in a row, for each such pair; of a card's length."""
    for start in range(len(digits) - 2 * _GROUP + 1):
        group = digits[start : start + _GROUP]
        if group == digits[start + _GROUP : start + 2 * _GROUP]:
            candidate = digits[:start] + digits[start + _GROUP :]
            if len(candidate) in _CARD_LENGTHS:
                yield candidate


class GroupHeardTwiceCardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer, Luhn and all, on a run of digits too long for a card that becomes one
    with a repeated group taken out (``_without_a_repeated_group``)."""

    PATTERNS = [  # noqa: RUF012 (Presidio's own form: its __init__ reads the class's list)
        Pattern("card with a group heard twice", r"\b[2-6]\d{16,22}\b", 0.3)
    ]

    def __init__(self, language: str, context: list[str]) -> None:
        super().__init__(supported_language=language, context=context, name=type(self).__name__)

    def validate_result(self, pattern_text: str) -> bool:
        luhn = super().validate_result
        return any(map(luhn, _without_a_repeated_group(re.sub(r"\D", "", pattern_text))))
