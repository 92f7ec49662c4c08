"""A name spelled out letter by letter, as callers do when the agent cannot write it down from hearing it.

Whisper writes the letters in capitals with the same mark between them ("S-M-I-T-H", "S M I T H", "D. U.
P."), now and then in lower case ("s, m, i, t, h"), and a letter said with a word for it as the caller said
it: "S as in Sam, M as in Mary", "S de Sevilla", "S wie Siegfried", "S comme Suzanne", or the spelling
alphabet's words alone ("Sierra Mike India Tango Hotel", the German "Siegfried Martha Ida Theodor
Heinrich", the French "Suzanne Marcel Irma Thérèse Henri"). All are redacted as a name
(``SpellingRecognizer``), and a name found whole is looked for spelled in either way (``said.py``,
``letter_said``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from callsense.config.redaction import EntityType

# Three letters at least: two alone could be initials ("J. R."); two said with words are a spelling.
MIN_LETTERS = 3
_CAPITAL = r"(?-i:[A-ZÀ-Ý])(?![\w'\u2019])"
# Letters alone, in capitals, the same marks between them; not the "I" of the next sentence after hyphens or
# before an apostrophe ("K-I-N-G. I think", "K. I. N. G. I've got").
SPELLED_LETTERS = rf"\b{_CAPITAL}(?P<gap>[\s.,-]+){_CAPITAL}(?:(?P=gap){_CAPITAL})+"
# Letters alone in lower case, as Whisper writes them now and then ("s, m, i, t, h", "M-ü-l-l-e-r"): four at
# least, since "a", "y", "à" are words too ("il y a à"), and only where spelling was asked for or said
# (``SPELL_WORDS``, checked by ``overruled``): "it's under a, b, c, d" next to "name" is none.
_LETTER = r"[^\W\d_](?![\w'\u2019])"
_ANY_CASE_LETTERS = re.compile(rf"\b{_LETTER}(?P<gap>[\s.,-]+){_LETTER}(?:(?P=gap){_LETTER}){{2,}}")
SPELL_WORDS = ("spell", "deletr", "buchstabier", "épel")
SPELLING_RECOGNIZER = "SpellingRecognizer"


def in_lower_case_letters(value: str) -> bool:
    """Whether ``value`` is letters alone with one in lower case at least (``_ANY_CASE_LETTERS``)."""
    return bool(_ANY_CASE_LETTERS.fullmatch(value)) and any(letter.islower() for letter in value)


# "S as in Sam" in each language (and whisper-base's "I as an India"): these words between a letter and a
# word are said for nothing else, so the letter may be in lower case and the word too ("s as in sam"); after
# "for", "de", "como", "für" or "pour" only a capital and a capitalised word ("S for Sam", "S de Sevilla").
_AS_IN = r"(?:as in|as an|like in|wie|comme|como en)"
_FOR = r"(?:for|de|como|für|pour)"
_REST = r"[\w'\u2019-]*"
_WORD = rf"[^\W\d_]{_REST}"
_LETTER_AS_IN = rf"(?:\b[^\W\d_]\s{_AS_IN}\s{_WORD}|(?-i:\b[A-ZÀ-Ý]\s{_FOR}\s[A-ZÀ-Ý]){_REST})"
# The spelling alphabets' words, said alone for their letters: the international (NATO) one, and the
# German (DIN 5009) and French ones, whose words are given names but for a few.
_ALPHABETS = ["Alpha", "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
              "Juliet", "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
              "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Whisky", "X-ray", "Xray", "Yankee",
              "Zulu", "Anton", "Berta", "Cäsar", "Dora", "Emil", "Friedrich", "Gustav", "Heinrich", "Ida",
              "Julius", "Kaufmann", "Ludwig", "Martha", "Nordpol", "Otto", "Paula", "Quelle", "Richard",
              "Samuel", "Siegfried", "Theodor", "Ulrich", "Viktor", "Wilhelm", "Xanthippe", "Ypsilon",
              "Zacharias", "Zeppelin", "Anatole", "Berthe", "Célestin", "Désiré", "Eugène", "François",
              "Gaston", "Henri", "Irma", "Joseph", "Kléber", "Louis", "Marcel", "Nicolas", "Pierre",
              "Quintal", "Raoul", "Suzanne", "Thérèse", "Ursule", "William", "Xavier", "Yvonne",
              "Zoé"]  # fmt: skip
_ALPHABET_WORD = rf"(?-i:\b(?:{'|'.join(_ALPHABETS)})\b)"
_GAP = r"[\s.,;-]+(?:(?:and|y|und|et)\s+)?"
# A letter alone between the ones said with a word ("S, M as in Mary, I, T, H"), followed by a mark, so
# that it is not a word ("I think").
_BARE = r"\b[^\W\d_](?=[.,;-]|\s*$)"
# One letter said with a word at least, the others with a word or alone.
_SAID_WITH_WORDS = re.compile(rf"(?i)(?:{_BARE}{_GAP})*{_LETTER_AS_IN}(?:{_GAP}(?:{_LETTER_AS_IN}|{_BARE}))*")
_ALPHABET_RUN = re.compile(rf"{_ALPHABET_WORD}(?:{_GAP}{_ALPHABET_WORD}){{{MIN_LETTERS - 1},}}")
_ONE_LETTER = re.compile(rf"(?i){_LETTER_AS_IN}|{_BARE}")
# Scores: a letter alone or one said with a word now and then spells a name only next to "spell", "name"…
# (its context words, or the question before); two letters said with words, or three of the alphabet's words
# in a row, are spelling whatever stands near.
_SPELLING = 0.5
_MAYBE_SPELLING = 0.1
_NAME = EntityType.name.value


def letter_said(letter: str) -> str:
    """A pattern for ``letter`` as a caller says it in spelling: alone, with a word for it ("S as in Sam", "S
    de Sevilla") or as the spelling alphabet's word ("Sierra")."""
    words = [word for word in _ALPHABETS if word[0].lower() == letter.lower()]
    alphabet = "|".join(words)
    return rf"(?:{re.escape(letter)}(?:\s(?:{_AS_IN}|{_FOR})\s{_WORD})?{'|' + alphabet if words else ''})"


@dataclass(frozen=True)
class Spelling:
    """A word spelled out in a text, at ``start``:``end``; ``certain`` where it can be nothing else (two
    letters said with words, three of the alphabet's words), not only next to "spell" or "name"."""

    start: int
    end: int
    word: str
    certain: bool


def spellings(text: str) -> list[Spelling]:
    """The words spelled out in ``text``, capitalised ("S-M-I-T-H", "S as in Sam, M as in Mary, I, T, H" and
    "Sierra Mike India Tango Hotel" each "Smith")."""
    found: list[Spelling] = []
    in_lower_case = [match for match in _ANY_CASE_LETTERS.finditer(text) if in_lower_case_letters(match[0])]
    for match in [*re.finditer(SPELLED_LETTERS, text), *in_lower_case]:
        letters = [character for character in match[0] if character.isalpha()]
        found.append(_spelling(match, letters, certain=False))
    for match in _SAID_WITH_WORDS.finditer(text):
        letters = [letter[0].lstrip() for letter in _ONE_LETTER.finditer(match[0])]
        with_words = sum(len(letter) > 1 for letter in letters)
        # two letters said with words are spelling, however many letters (Whisper's "assistant San, Emma's
        # in Mary, I as an India, T as in Tom, H as in Henry": the last three)
        if with_words >= 2 or len(letters) >= MIN_LETTERS:
            found.append(_spelling(match, [letter[0] for letter in letters], certain=with_words >= 2))
    for match in _ALPHABET_RUN.finditer(text):
        words = re.findall(_ALPHABET_WORD, match[0])
        found.append(_spelling(match, [word[0] for word in words], certain=True))
    # "I, T, H" of "S as in Sam, M as in Mary, I, T, H" is no spelling of its own
    return [
        spelling
        for spelling in found
        if not any(o.start <= spelling.start and spelling.end <= o.end and o != spelling for o in found)
    ]


def _spelling(match: re.Match[str], letters: list[str], *, certain: bool) -> Spelling:
    return Spelling(*match.span(), "".join(letters).capitalize(), certain)


class SpellingRecognizer(EntityRecognizer):
    """A name spelled out: letters alone ("S-M-I-T-H") or said with words ("S as in Sam, M as in Mary"), or
    the spelling alphabet's words ("Sierra Mike India…")."""

    def __init__(self, language: str, context: list[str]) -> None:
        super().__init__(
            supported_entities=[_NAME],
            supported_language=language,
            name=SPELLING_RECOGNIZER,
            context=context,
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        found: list[RecognizerResult] = []
        for spelling in spellings(text):
            score = _SPELLING if spelling.certain else _MAYBE_SPELLING
            # Presidio's context enhancer records the context word in the result's explanation.
            explanation = AnalysisExplanation(recognizer=type(self).__name__, original_score=score)
            span = (spelling.start, spelling.end)
            found.append(RecognizerResult(_NAME, *span, score, analysis_explanation=explanation))
        return found
