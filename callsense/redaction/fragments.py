"""The groups of a number read apart from it: a card or id hit grows by the digits read just before or after
it ("4242, sorry, 4242 4242 4242 4242", "my ID number is 1734." / "One, two. 5, 6, and" / "7, 2, double
9."), a correction, or a group Whisper heard apart; an id also by a capital with digits ("560708913.
J003.") and by a capital alone just before it ("C, F4K9R7H2"), as Whisper writes an id's letters."""

from __future__ import annotations

import re

from callsense.redaction.digits import Normalised

_ID_PART = re.compile(r"[A-Z]?\d+")
_CAPITAL = re.compile(r"[A-Z]")


def with_fragments(view: Normalised, first: int, last: int, *, gap: int, id_parts: bool) -> tuple[int, int]:
    """Words ``first``..``last`` of ``view`` (a card or id hit) grown by the groups read up to ``gap`` words
    before or after them; an id's parts too where ``id_parts``."""
    grown = True
    while grown:
        grown = False
        for piece in view.pieces:
            text = view.text[piece.start : piece.end]
            words_before, words_after = first - piece.last, piece.first - last
            if 0 < words_before <= gap and _fragment(text, id_parts, just_before=words_before == 1):
                first, grown = piece.first, True
            elif 0 < words_after <= gap and _fragment(text, id_parts, just_before=False):
                last, grown = piece.last, True
    return first, last


def _fragment(text: str, id_parts: bool, *, just_before: bool) -> bool:
    """Whether ``text`` is a group of the number: digits; for an id a capital with digits, or a capital alone
    ``just_before`` it."""
    if text.rstrip(".?!").isdigit():
        return True
    part = text.rstrip(".,?!")
    return id_parts and bool(_ID_PART.fullmatch(part) or (just_before and _CAPITAL.fullmatch(part)))
