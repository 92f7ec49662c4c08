"""Whisper's words as the redactor compares them."""

from __future__ import annotations

EDGE_PUNCTUATION = ".,;:!?¿¡\"'()…-"


def core(word: str) -> str:
    """The word without its leading space and the punctuation around it, lower case."""
    return word.strip().strip(EDGE_PUNCTUATION).lower()


# A name spelled out letter by letter as Whisper writes it, in capitals: "S-M-I-T-H", "S M I T H", "D. U. P."
# (three letters at least: two could be initials).
SPELLED_LETTERS = r"\b(?-i:[A-ZÀ-Ý])(?:[\s.,-]+(?-i:[A-ZÀ-Ý])\b){2,}"
