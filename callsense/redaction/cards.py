"""A card number Whisper heard with digits said over and over too many times.

A caller reading "five five five five, five five five five, five five five five, four four four four" is
written by whisper-base now and then as "55555555555555554444": a group said twice in a row becomes three
times, twenty digits that fail Luhn, with no "card" said to find them by (the bench's English card missed
in every layout); or as "555555555555554444", two fives too many; "cuatro uno uno uno…" as eighteen digits,
the ones one or two times too many. Such a number is a card when taking one of two equal groups in a row
out of it leaves a number of a card's length, a card's first digit and a valid Luhn checksum, or when
taking up to four digits out of a run of one digit five or more long, at least four left, leaves sixteen
digits, a card's first digit and a valid checksum. Zeros are left as they are: reference numbers are
padded with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

_GROUP = 4
_CARD_LENGTHS = range(13, 20)
# Five or more of one digit but zero, and groups of four but "0000": a reference number padded with zeros
# ("300000000000000012") would pass Luhn one time in ten, as would any number shortened to each length.
_RUN_OF_ONE_DIGIT = re.compile(r"([1-9])\1{4,}")
_MOST_CARDS = 16  # digits: a run is shortened to this length only


def _as_said_once(digits: str) -> Iterator[str]:
    """``digits`` less what Whisper may have written too many times, each way: one of two equal groups of
    four in a row, or one to four digits of a run of one digit (four or more kept) to leave sixteen; no
    zeros (``_RUN_OF_ONE_DIGIT``)."""
    for start in range(len(digits) - 2 * _GROUP + 1):
        group = digits[start : start + _GROUP]
        if group == digits[start + _GROUP : start + 2 * _GROUP] and group != "0000":
            yield digits[:start] + digits[start + _GROUP :]
    for run in _RUN_OF_ONE_DIGIT.finditer(digits):
        extra = len(digits) - _MOST_CARDS
        if 0 < extra <= min(_GROUP, len(run[0]) - _GROUP):
            yield digits[: run.start()] + digits[run.start() + extra :]


class HeardTooOftenCardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer, Luhn and all, on a run of digits too long for a card that becomes one
    with what was heard too often taken out (``_as_said_once``)."""

    PATTERNS = [  # noqa: RUF012 (Presidio's own form: its __init__ reads the class's list)
        Pattern("card with digits heard too often", r"\b[2-6]\d{16,22}\b", 0.3)
    ]

    def __init__(self, language: str, context: list[str]) -> None:
        super().__init__(supported_language=language, context=context, name=type(self).__name__)

    def validate_result(self, pattern_text: str) -> bool:
        luhn = super().validate_result  # a generator has no super() of its own
        said_once = _as_said_once(re.sub(r"\D", "", pattern_text))
        return any(luhn(card) for card in said_once if len(card) in _CARD_LENGTHS)
