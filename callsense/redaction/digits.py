"""Spoken numbers and e-mail addresses written the way detectors read them, with a map back to the words.

Whisper writes a card number as "4111 1111 1111 1111", "four one one one, …", "41 11 …" or "double four",
split over two turns with "uh" in between. ``normalise`` turns one speaker's words into a text in which every
run of number words is digits (``text2num`` for "forty one", "einundvierzig", "quarante et un"; a table
for the single digits it leaves, "oh" and "double"), spoken addresses ("john at example dot com") are
e-mails (``emails.py``), and each stretch of the text knows the words it came from, so a hit lands on
Whisper's words and their timestamps. Two views: ``joined`` writes a run as one block of digits (cards,
phones, accounts, ids), ``spaced`` keeps its numbers apart (dates, expiry dates, house numbers).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex
from text_to_num import alpha2digit

from callsense.calls import textmatch
from callsense.redaction.emails import write_emails
from callsense.redaction.spelled_ids import with_letters
from callsense.redaction.words import EDGE_PUNCTUATION, core

# Single digits text2num leaves alone (it keeps a lone "one" as a word), fillers, and repeat words.
_DIGITS: dict[str, dict[str, str]] = {
    "en": {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
           "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"},
    "es": {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
           "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"},
    "de": {"null": "0", "eins": "1", "ein": "1", "eine": "1", "zwei": "2", "zwo": "2", "drei": "3",
           "vier": "4", "fünf": "5", "sechs": "6", "sieben": "7", "acht": "8", "neun": "9"},
    "fr": {"zéro": "0", "zero": "0", "un": "1", "une": "1", "deux": "2", "trois": "3", "quatre": "4",
           "cinq": "5", "six": "6", "sept": "7", "huit": "8", "neuf": "9"},
    "it": {"zero": "0", "uno": "1", "una": "1", "due": "2", "tre": "3", "quattro": "4", "cinque": "5",
           "sei": "6", "sette": "7", "otto": "8", "nove": "9"},
    # Brazilians read a 6 in a phone number as "meia" (half a dozen).
    "pt": {"zero": "0", "um": "1", "uma": "1", "dois": "2", "duas": "2", "três": "3", "tres": "3",
           "quatro": "4", "cinco": "5", "seis": "6", "meia": "6", "sete": "7", "oito": "8", "nove": "9"},
}  # fmt: skip
# Digits that are also everyday words: articles ("una", "um"), "sei" (you are), "meia" (half, sock).
_AMBIGUOUS = {"oh", "o", "one", "un", "une", "uno", "una", "ein", "eine", "null", "um", "uma", "sei", "meia"}
# Words Whisper writes for a digit it heard ("call me on for 1555-2671"): a digit only right before another
# number, never alone nor at the end of one ("four for you" keeps its "for").
_HOMOPHONES: dict[str, dict[str, str]] = {
    "en": {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"},
}
# A homophone ("for") before this many digits is their first digit ("for 1555-2671"); before fewer, a
# quantity's preposition ("for 45 minutes").
_DIGIT_GROUP = 3
_FILLERS = {
    "uh",
    "um",
    "umm",
    "er",
    "erm",
    "ah",
    "hmm",
    "mm",
    "äh",
    "ähm",
    "öh",
    "hm",
    "euh",
    "heu",
    "bah",
    "ben",
    "eh",
    "em",
    "este",
    "mmm",
    "a",
    # Backchannels: on a mono call the other side's "mm-hmm" can land between the caller's digit groups.
    "mm-hmm",
    "mm-hm",
    "mhm",
    "mhmm",
    "uh-huh",
    "uh-hum",
    "aha",
    "ajá",
    "ehm",
    "hum",
    "ahn",
    "hã",
}  # fmt: skip  ("a": how Whisper often writes "uh")
_REPEATS = {"double": 2, "triple": 3, "doble": 2, "doppel": 2, "doppelte": 2, "dreifach": 3}
_PLUS = {"plus", "más", "mas"}
# "cuarenta y uno", "quarante et un", "quarenta e um": part of the number between two words
_CONNECTORS = {"y", "et", "und", "e"}
# Where the tens come first, Whisper may write the tens and the units as digits: "setenta y ocho" as "70 y 8",
# or run into the groups around them, "9145670 y 890".
_TENS_CONNECTORS = {"y", "et"}
_SENTENCE_END = (".", "?", "!")
_DIGIT_TOKEN = re.compile(r"\+?\d[\d.,\-/]*")
_DAY_OR_MONTH = r"(?:0?[1-9]|[12]\d|3[01])"
_WRITTEN_DATE = re.compile(rf"{_DAY_OR_MONTH}([./]){_DAY_OR_MONTH}\1(?:\d{{2}}|\d{{4}})")
# A number as long as a phone's with one letter run into its end, its last digit misheard ("0171234567a"
# for "… sieben acht"), or a filler heard as a letter run into the start of digits read one by one
# ("L1,2,3,4,5,6,7,8." for "äh, eins zwei …"). Others keep their letter: "7a" is a house number,
# "12345678Z" a Spanish DNI, "A12345678" a passport.
_LETTER_RUN_IN = re.compile(r"\+?(?:\d[.,\-]?){9,}[a-z]|[a-z]\d(?:[.,\-]\d){6,}", re.IGNORECASE)
TEXT2NUM_LANGUAGES = {"en", "es", "de", "fr", "pt", "it", "nl", "da"}
# A word cut where the letters of a script without spaces meet other characters ("は4111" is "は", "4111").
_SCRIPT_PARTS = regex.compile(rf"\s*(?:{textmatch.UNSPACED}+|(?:(?!{textmatch.UNSPACED}).)+)", regex.DOTALL)


@dataclass(frozen=True)
class Piece:
    """Characters ``start``..``end`` of a normalised text came from words ``first``..``last`` (inclusive)."""

    start: int
    end: int
    first: int
    last: int


@dataclass(frozen=True)
class Normalised:
    text: str
    pieces: list[Piece]

    def words_at(self, start: int, end: int) -> tuple[int, int] | None:
        """The first and last word under characters ``start``..``end``; None when only spaces are."""
        hit = [piece for piece in self.pieces if piece.start < end and start < piece.end]
        if not hit:
            return None
        return min(piece.first for piece in hit), max(piece.last for piece in hit)


def number_language(language: str | None) -> str:
    """The language whose number words ``language``'s words are read with: its own where text2num knows it,
    English's elsewhere."""
    code = (language or "en").split("-")[0].lower()
    return code if code in TEXT2NUM_LANGUAGES else "en"


@lru_cache(maxsize=4096)
def _converts(word: str, language: str) -> bool:
    if language not in TEXT2NUM_LANGUAGES or not word.replace("-", "").isalpha():
        return False
    return any(ch.isdigit() for ch in alpha2digit(word, language)) or len(_hyphen_parts(word, language)) > 1


def _hyphen_parts(word: str, language: str) -> list[str]:
    """A word of several numbers Whisper joined with hyphens ("trente-trois-six-quatorze" for "trente-trois,
    six, quatorze"), which text2num does not read, as its parts; any other word as itself."""
    parts = word.split("-")
    table = _DIGITS.get(language, _DIGITS["en"])
    if len(parts) < 2 or any(ch.isdigit() for ch in alpha2digit(word, language)):
        return [word]
    numbers = all(
        part in table or part in _CONNECTORS or any(ch.isdigit() for ch in alpha2digit(part, language))
        for part in parts
    )
    return parts if numbers else [word]


def _number_kind(word: str, language: str) -> str | None:
    """'digits', 'word', 'ambiguous', 'homophone', 'repeat', 'plus' or None for a word that is no part of a
    number."""
    text = core(word)
    # Whisper splits "4012-8888 8888 1881" into " 4012" and "-8888": the dash is no minus sign.
    bare = word.strip().strip(EDGE_PUNCTUATION)
    # A date written with dots, as German writes one ("3.3.1985"), stays a date as one with slashes does.
    date = "/" in word or written_date(word)
    if (_DIGIT_TOKEN.fullmatch(bare) and not date) or _LETTER_RUN_IN.fullmatch(bare):
        return "digits"
    if text in _REPEATS:
        return "repeat"
    if text in _PLUS:
        return "plus"
    table = _DIGITS.get(language, _DIGITS["en"])
    if text in table or _converts(text, language):
        return "ambiguous" if text in _AMBIGUOUS else "word"
    if text in _HOMOPHONES.get(language, {}):
        return "homophone"
    return None


def written_date(word: str) -> bool:
    """Whether ``word`` is written as a date, with slashes ("3/15/85") or with dots ("3.3.1985")."""
    return bool(_WRITTEN_DATE.fullmatch(word.strip().strip(EDGE_PUNCTUATION)))


def _kind_in_run(words: list[str], index: int, language: str) -> str | None:
    """``_number_kind``, with a homophone a digit only inside a number read out: before a group of three
    digits or more ("for 1555-2671") or two numbers in a row ("two oh too, five five five"); not before a
    quantity or in a range ("on hold for 45 minutes", "for 3 days", "3 to 5 days", "from 9 to 5")."""
    kind = _number_kind(words[index], language)
    if kind != "homophone":
        return kind
    numbers = ("digits", "word", "ambiguous")
    following, after_that = (
        _number_kind(words[i], language) if i < len(words) else None for i in (index + 1, index + 2)
    )
    group = following == "digits" and len(re.sub(r"\D", "", words[index + 1])) >= _DIGIT_GROUP
    return kind if group or (following in numbers and after_that in numbers) else None


def _run_numbers(words: list[str], language: str) -> str:
    """The numbers a run of words says, each group as text2num writes it, separated by spaces."""
    table = _DIGITS.get(language, _DIGITS["en"])
    out: list[str] = []
    spoken: list[str] = []
    repeat = 1
    units_next = False

    def flush() -> None:
        nonlocal repeat, units_next
        if not spoken:
            return
        converted = alpha2digit(" ".join(spoken), language) if language in TEXT2NUM_LANGUAGES else ""
        tokens = converted.split() if converted else spoken
        for token in tokens:
            value = token if token[0].isdigit() else table.get(token.lower(), "")  # "3rd" stays
            if value and units_next and len(value) == 1:  # "60 y seis": the units take the tens' zero
                out[-1] = out[-1][:-1] + value
            elif value:
                out.append(value[0] * repeat + value[1:] if repeat > 1 else value)
            repeat = 1 if value else repeat
            units_next = False
        spoken.clear()

    for word in words:
        text = core(word)
        kind = _number_kind(word, language)
        if kind == "repeat":
            flush()
            repeat = _REPEATS[text]
        elif kind == "plus":
            flush()
            out.append("+")
        elif kind in ("digits", "homophone"):
            flush()
            if word.strip().startswith("+"):  # "+7 912 …": the country code of an international number
                out.append("+")
            digits = re.sub(r"\D", "", word) or _HOMOPHONES[language][text]
            digits = digits[0] * repeat + digits[1:] if repeat > 1 else digits
            repeat = 1
            if units_next:  # "70 y 8": the units take the tens' zero
                out[-1], digits = out[-1][:-1] + digits[0], digits[1:]
            units_next = False
            if digits:
                out.append(digits)
        elif text in _TENS_CONNECTORS and not spoken and out and out[-1].endswith("0"):
            units_next = True
        elif kind in ("word", "ambiguous") or (text in _CONNECTORS and spoken):
            spoken += _hyphen_parts(text, language) if language in TEXT2NUM_LANGUAGES else [text]
            if repeat > 1:  # "double four": the repeated digit is the next word alone
                flush()
        if word.strip().endswith((",", ";", ":")):
            flush()
    flush()
    return " ".join(out).replace("+ ", "+")


def _connects(words: list[str], index: int, language: str) -> bool:
    """Whether ``words[index]`` is the "y" of "cuarenta y uno": a connector between two number words, or
    between tens Whisper wrote as digits and units as digits or a word ("70 y 8", "60 y seis")."""
    if core(words[index]) not in _CONNECTORS or not 0 < index < len(words) - 1:
        return False
    before, after = _number_kind(words[index - 1], language), _number_kind(words[index + 1], language)
    if before == "word" and after in ("word", "ambiguous"):
        return True
    tens, units = re.sub(r"\D", "", words[index - 1]), re.sub(r"\D", "", words[index + 1])
    if after != "digits":  # a units word: one digit, not zero
        units = _DIGITS.get(language, {}).get(core(words[index + 1]), "")
    return (
        core(words[index]) in _TENS_CONNECTORS
        and before == "digits"
        and tens.endswith("0")
        and units[:1] in set("123456789")
    )


def _runs(words: list[str], turn_ends: set[int], language: str) -> list[tuple[int, int]]:
    """Index ranges (inclusive) of words that say one number: number words, with fillers between them and
    across turns of the same speaker, up to a sentence end inside a turn or any other word."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    last_number = -1
    unambiguous = False
    for index, word in enumerate(words):
        kind = _kind_in_run(words, index, language)
        if kind is not None:
            if start is None:
                start, unambiguous = index, False
            last_number = index
            unambiguous = unambiguous or kind in ("digits", "word")
        elif start is not None and (core(word) in _FILLERS or _connects(words, index, language)):
            continue
        elif start is not None:
            if unambiguous:
                runs.append((start, last_number))
            start = None
        # Whisper ends a group of digits with a full stop where the caller paused ("34.6.9. 9.80.8.77.66."):
        # followed at once by more digits, that stop is no sentence end.
        following = _number_kind(words[index + 1], language) if index + 1 < len(words) else None
        ended = word.strip().endswith(_SENTENCE_END) and index not in turn_ends
        ended = ended and not (kind == "digits" and following == "digits")
        if ended and start is not None:
            if unambiguous:
                runs.append((start, last_number))
            start = None
    if start is not None and unambiguous:
        runs.append((start, last_number))
    return runs


def _tokens(words: list[str]) -> list[tuple[int, int, str]]:
    """Whisper's words joined into space-separated tokens: a word without a leading space continues the one
    before (" anadot" "imat" "gmail.com", " 4012" "-8888"). Chinese, Japanese or Thai have no spaces at all:
    there a token ends where their characters meet anything else ("は" "4111" is two tokens, so a card
    number is not hidden inside the sentence). Each: first word, last word, text."""
    tokens: list[tuple[int, int, str]] = []
    for index, word in enumerate(words):
        for part in _SCRIPT_PARTS.findall(word) or [word]:
            glued = tokens and part and not part[0].isspace()
            if glued and not (textmatch.unspaced(part[0]) or textmatch.unspaced(tokens[-1][2][-1:])):
                first, _, text = tokens[-1]
                tokens[-1] = (first, index, text + part)
            else:
                tokens.append((index, index, part))
    return tokens


def _as_detectors_read(token: str) -> str:
    """A token in the characters the detectors know: full-width digits, letters and "@" as ASCII (Whisper
    writes them in Japanese and Chinese now and then) and the digits of other scripts as ASCII digits ("٤"
    in Arabic, "४" in Hindi): Presidio's card pattern and libphonenumber read ASCII digits only."""
    return textmatch.ascii_digits(unicodedata.normalize("NFKC", token))


def _sentence_end_after(texts: list[str], last: int, language: str) -> str:
    """The full stop (or "?", "!") that ends the sentence of a number read out ending at ``texts[last]``,
    where a word that is no number follows: the detectors read "Tarjeta terminada en 4111. El código de error
    es 404." as two sentences. Before more digits ("34.6.9. 9.80…", a group "1734." / "One, two.") the stop
    is a pause in the number, and it is not kept."""
    mark = texts[last].strip()[-1:]
    if mark in _SENTENCE_END and last + 1 < len(texts) and _number_kind(texts[last + 1], language) is None:
        return mark
    return ""


def normalise(words: list[str], *, language: str, turn_ends: set[int], joined: bool) -> Normalised:
    """One speaker's words (Whisper's, with their leading spaces) as a text detectors read; ``turn_ends``
    are the indices of the last word of each turn (a number goes on across them)."""
    tokens = _tokens(words)
    texts = [_as_detectors_read(text) for _, _, text in tokens]
    token_ends = {number for number, (_, last, _) in enumerate(tokens) if last in turn_ends}
    replaced: dict[int, tuple[int, str]] = {}  # first token -> (last token, text)
    free_from = 0  # the first token no run has taken
    for first, last in _runs(texts, token_ends, language):
        numbers = _run_numbers(texts[first : last + 1], language)
        if joined:
            first, last, numbers = with_letters(
                texts, first, last, numbers.replace(" ", ""), language, free_from=free_from
            )
        replaced[first] = (last, numbers + _sentence_end_after(texts, last, language))
        free_from = last + 1
    write_emails(texts, replaced, language)
    text = ""
    pieces: list[Piece] = []
    index = 0
    while index < len(texts):
        last, piece_text = replaced.get(index, (index, texts[index].strip()))
        if text:
            text += " "
        pieces.append(Piece(len(text), len(text) + len(piece_text), tokens[index][0], tokens[last][1]))
        text += piece_text
        index = last + 1
    return Normalised(text, pieces)
