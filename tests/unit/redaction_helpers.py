"""Turns shaped like Whisper's output, for the redaction tests."""

from __future__ import annotations

from callsense.calls.schemas import Segment, Speaker, Word


def whisper_turn(speaker: Speaker, text: str, start: float = 0.0) -> Segment:
    """A turn whose words are ``text`` split at spaces, each with Whisper's leading space, 0.4 s apart."""
    words = [
        Word(start=start + 0.4 * i, end=start + 0.4 * i + 0.3, text=f" {token}", probability=0.9)
        for i, token in enumerate(text.split())
    ]
    return Segment(speaker=speaker, start=start, end=words[-1].end, text=text, confidence=0.9, words=words)


ARABIC_INDIC, PERSIAN, DEVANAGARI = 0x0660, 0x06F0, 0x0966  # the code points of each script's zero


def script_digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in another script's digits ("4111" as Arabic-Indic "٤١١١")."""
    return text.translate({ord("0") + n: chr(zero + n) for n in range(10)})


def full_width(text: str) -> str:
    """``text`` with its ASCII letters, digits and signs in their full-width forms, as Whisper writes them in
    Japanese and Chinese now and then."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)
