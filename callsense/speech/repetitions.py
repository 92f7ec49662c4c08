"""Whisper's decoding loops told apart from what people really repeat.

A phrase of up to six words said three or more times in a row ("die im Land, die im Land, die im Land") is
usually Whisper feeding on its own output; it is collapsed to one. People repeat too: digit groups ("1111 1111
1111", "one one one one", read from a card) and a word said a few times for emphasis ("no, no, no") are kept,
so that numbers survive transcription (bench/digits.py measures it).
"""

from __future__ import annotations

import re

__all__ = ["CLIP_SECONDS", "MAX_EMPHASIS_REPEATS", "clips_of", "cut_repetitions"]

_REPEATED_PHRASE = re.compile(r"\b((?:\S+\s+){0,5}?\S+?)(?:[\s,.;!?]+\1\b){2,}", re.IGNORECASE)
# More repeats of one word than this in a row are a loop, not emphasis.
MAX_EMPHASIS_REPEATS = 4
# Digits read out one by one, in the languages whose calls we test (en, es, de, fr) and their neighbours.
_DIGIT_WORDS = frozenset(
    {
        *("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        *("double", "triple"),
        *("cero", "uno", "una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
        *("null", "eins", "zwei", "zwo", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
        *("zéro", "un", "une", "deux", "trois", "quatre", "cinq", "sept", "huit", "neuf"),
        *("due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
        *("um", "uma", "dois", "duas", "três", "sete", "oito"),
    }
)


def cut_repetitions(text: str) -> str:
    """Collapse a phrase repeated three or more times in a row ("die im Land, die im Land, ...") to one,
    unless it is a run of digits or one word said a few times for emphasis."""
    return _REPEATED_PHRASE.sub(_collapse_loop, text)


def _collapse_loop(match: re.Match[str]) -> str:
    phrase = match.group(1)
    words = [word.strip(",.;!?-").lower() for word in phrase.split()]
    if all(word.isdigit() or word in _DIGIT_WORDS for word in words):
        return match.group(0)
    repeats = len(re.findall(re.escape(phrase), match.group(0), re.IGNORECASE))
    if len(words) == 1 and repeats <= MAX_EMPHASIS_REPEATS:
        return match.group(0)
    return phrase


# A window rejected as a loop is decoded again in clips of at most this many seconds, cut at pauses, so a
# loop costs one clip rather than the window: on a mono call the turns leave no pause long enough for the
# VAD to split the speech, and the whole call is one 30-second window.
CLIP_SECONDS = 10.0


def clips_of(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Consecutive speech regions joined into clips of at most CLIP_SECONDS (a longer region stays whole)."""
    clips: list[tuple[float, float]] = []
    for start, end in regions:
        if clips and end - clips[-1][0] <= CLIP_SECONDS:
            clips[-1] = (clips[-1][0], end)
        else:
            clips.append((start, end))
    return clips
