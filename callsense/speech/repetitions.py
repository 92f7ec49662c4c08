"""Whisper's decoding loops told apart from what people really repeat.

A phrase of up to six words said three or more times in a row ("die im Land, die im Land, die im Land") is
usually Whisper feeding on its own output; it is collapsed to one. People repeat too: digit groups ("1111 1111
1111", "one one one one", read from a card) and a word said a few times for emphasis ("no, no, no") are kept,
so that numbers survive transcription (bench/digits.py measures it).

A whole window is judged by the gzip compression ratio of its text (``loop_compression_ratio``), with every
read-out number collapsed to one mark first: "cuatro uno uno uno, uno uno uno uno, …" compresses like a loop
but is a card. A run of more digits than any number a caller reads out (``MAX_NUMBER_DIGITS``) is not
collapsed: "uno" sixty times is a loop.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

__all__ = [
    "CLIP_SECONDS",
    "MAX_EMPHASIS_REPEATS",
    "MAX_NUMBER_DIGITS",
    "clips_of",
    "cut_repetitions",
    "longest_number",
    "loop_compression_ratio",
]

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
_REPEAT_WORDS = frozenset({"double", "triple"})
# Hesitations inside a number ("5555, uh, 5555"): they do not end it.
_FILLERS = frozenset({"uh", "um", "er", "erm", "eh", "äh", "ähm", "euh", "hum"})
# Separators Whisper writes inside and around digit groups: "4-1-1-1", "9.1.5", "5,".
_NUMBER_PUNCTUATION = str.maketrans("", "", "-./,:;")
_EDGE_PUNCTUATION = "\"'“”«»()[]!?¿¡…,.;:-"
# The longest number a caller reads out in one go, in digits: a card (19) with its expiry and security code,
# an IBAN's digits (up to 30); a run of more digits than this is a loop. Twice a 16-digit card.
MAX_NUMBER_DIGITS = 32


def cut_repetitions(text: str) -> str:
    """Collapse a phrase repeated three or more times in a row ("die im Land, die im Land, ...") to one,
    unless it is a run of digits or one word said a few times for emphasis."""
    return _REPEATED_PHRASE.sub(_collapse_loop, text)


def _collapse_loop(match: re.Match[str]) -> str:
    phrase = match.group(1)
    words = [word.strip(",.;!?-").lower() for word in phrase.split()]
    if all(word.isdigit() or word in _DIGIT_WORDS for word in words):
        said = (_digits_in(token) for token in match.group(0).split())
        if sum(count or 0 for count in said) <= MAX_NUMBER_DIGITS:
            return match.group(0)
        return phrase
    repeats = len(re.findall(re.escape(phrase), match.group(0), re.IGNORECASE))
    if len(words) == 1 and repeats <= MAX_EMPHASIS_REPEATS:
        return match.group(0)
    return phrase


def loop_compression_ratio(text: str) -> float:
    """The gzip compression ratio by which faster-whisper tells a decoding loop (above 2.4), measured with
    each read-out number of at most MAX_NUMBER_DIGITS digits collapsed to one mark, so that a card read
    digit by digit is not taken for a loop."""
    data = _numbers_collapsed(text).encode("utf-8")
    return len(data) / len(zlib.compress(data))


def longest_number(text: str) -> int:
    """The digits of the longest number read out in ``text`` ("la tarjeta es 4-0-1-2." 4, "tres cuatro
    cinco, seis" 4, "Tengo dos preguntas" 1), fillers inside a number not ending it; 0 without any."""
    return max((digits for _, digits in _runs(text) if digits is not None), default=0)


def _numbers_collapsed(text: str) -> str:
    """``text`` with each run of digits and digit words (fillers inside it included) replaced by "#", unless
    the run holds more than MAX_NUMBER_DIGITS digits."""
    kept: list[str] = []
    for tokens, digits in _runs(text):
        kept += ["#"] if digits is not None and digits <= MAX_NUMBER_DIGITS else tokens
    return " ".join(kept)


def _runs(text: str) -> Iterator[tuple[list[str], int | None]]:
    """``text``'s tokens in order: each run of digits and digit words (fillers inside it included) with its
    count of digits, and each other token alone with None."""
    number: list[str] = []
    digits = 0
    fillers: list[str] = []  # after a digit: inside the number if another digit follows
    for token in text.split():
        count = _digits_in(token)
        if count is not None:
            number += fillers
            number.append(token)
            digits += count
            fillers = []
        elif number and token.strip(_EDGE_PUNCTUATION).lower() in _FILLERS:
            fillers.append(token)
        else:
            if number:
                yield number, digits
            yield from (([filler], None) for filler in fillers)
            yield [token], None
            number, digits, fillers = [], 0, []
    if number:
        yield number, digits
    yield from (([filler], None) for filler in fillers)


def _digits_in(token: str) -> int | None:
    """How many digits a token says ("4111" 4, "uno" 1, "double" 0), or None for a token that is no digit."""
    bare = token.strip(_EDGE_PUNCTUATION).lower()
    if bare in _REPEAT_WORDS:
        return 0
    if bare in _DIGIT_WORDS:
        return 1
    written = bare.translate(_NUMBER_PUNCTUATION)
    return len(written) if written.isdigit() else None


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
