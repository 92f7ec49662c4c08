"""Whisper's words as the redactor compares them."""

from __future__ import annotations

EDGE_PUNCTUATION = ".,;:!?¿¡\"'()…-"


def core(word: str) -> str:
    """The word without its leading space and the punctuation around it, lower case."""
    return word.strip().strip(EDGE_PUNCTUATION).lower()


# A name spelled out letter by letter as Whisper writes it, in capitals, the same marks between its letters:
# "S-M-I-T-H", "S M I T H", "D. U. P." (three letters at least: two could be initials). Not the "I" of the
# next sentence after hyphens or before an apostrophe ("K-I-N-G. I think", "K. I. N. G. I've got").
_CAPITAL = r"(?-i:[A-ZÀ-Ý])(?![\w'\u2019])"
SPELLED_LETTERS = rf"\b{_CAPITAL}(?P<gap>[\s.,-]+){_CAPITAL}(?:(?P=gap){_CAPITAL})+"
