"""Whisper's words as the redactor compares them."""

from __future__ import annotations

EDGE_PUNCTUATION = ".,;:!?¿¡\"'()…-"


def core(word: str) -> str:
    """The word without its leading space and the punctuation around it, lower case."""
    return word.strip().strip(EDGE_PUNCTUATION).lower()
