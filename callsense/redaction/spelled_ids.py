"""Identity numbers read out with their letters' names: a Spanish NIE "equis, uno dos tres cuatro cinco seis
siete, ele" or DNI "uno dos … ocho, zeta", which Whisper writes with the letters as words ("equis 1234567
ele"). The letters' names next to a number of the right length are written as the letters, apart from the
digits ("X 1234567 L", "12345678 Z"), which is how the detectors read an id Whisper wrote with its letters
apart; their check letter decides whether it is one.
"""

from __future__ import annotations

from callsense.redaction.words import core

# The letters an NIE starts with (X, Y, Z stand for 0, 1, 2 in its check), by their names; "i griega" for Y
# is two words.
_LEADING: dict[str, dict[str, str]] = {
    "es": {"equis": "X", "ye": "Y", "griega": "Y", "zeta": "Z", "ceta": "Z"},
}
# The check letters of a DNI or NIE (all but I, Ñ, O, U) by their names.
_CHECK: dict[str, dict[str, str]] = {
    "es": {
        "a": "A", "be": "B", "ce": "C", "de": "D", "e": "E", "efe": "F", "ge": "G", "hache": "H", "jota": "J",
        "ka": "K", "ele": "L", "eme": "M", "ene": "N", "pe": "P", "cu": "Q", "erre": "R", "ese": "S",
        "te": "T", "uve": "V", "equis": "X", "ye": "Y", "zeta": "Z", "ceta": "Z",
    },
}  # fmt: skip
_NIE_DIGITS = 7
_DNI_DIGITS = 8


def _letter(texts: list[str], index: int, names: dict[str, str]) -> str | None:
    """The letter ``texts[index]`` names: a letter's name, or the capital letter itself."""
    if not 0 <= index < len(texts):
        return None
    word = core(texts[index])
    if len(word) == 1 and word.upper() in names.values():
        return word.upper()
    return names.get(word)


def with_letters(
    texts: list[str], first: int, last: int, digits: str, language: str, *, free_from: int
) -> tuple[int, int, str]:
    """The run of number words ``first``..``last`` (saying ``digits``) widened over the letters said around
    it when together they read as an identity number; tokens before ``free_from`` belong to another run."""
    if language not in _CHECK or not digits.isdigit():
        return first, last, digits
    lead = _letter(texts, first - 1, _LEADING[language]) if first - 1 >= free_from else None
    check = _letter(texts, last + 1, _CHECK[language])
    if lead and len(digits) == _NIE_DIGITS and check:
        named_y = core(texts[first - 1]) == "griega" and first - 2 >= free_from
        start = first - 2 if named_y and core(texts[first - 2]) in ("i", "y") else first - 1
        return start, last + 1, f"{lead} {digits} {check}"
    if len(digits) == _DNI_DIGITS and check:
        return first, last + 1, f"{digits} {check}"
    return first, last, digits
