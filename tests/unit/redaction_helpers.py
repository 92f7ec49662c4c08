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
