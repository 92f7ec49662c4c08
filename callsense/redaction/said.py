"""What the redaction of a call's turns took out, taken out again wherever the call repeats it.

A value is often found once, by a cue or a context word, and said or written again without it: the agent's
"Danke, Herr Böhm" after "ich heiße Jürgen Böhm" (no German NER model finds "Böhm" alone), "Perfecto,
Lucía", and in what the LLM and Whisper write from the turns as said (summary, topic detail, issues,
action items, translations): "Böhm was unhappy with the delay", "paid with 4111-1111-1111-1112" for a card
that fails Luhn and was a card because "Karte" stood near it, a French address in an English summary. Each
value redacted in the turns is therefore redacted wherever it recurs, in the other turns
(``recurring_spans``, so the recording is masked there too) and in that text (``redact_said``):

- its digits, when it has 6 or more (spoken digits read as in the turns: "four one one one…"), with any
  spaces, dots, dashes (en and em dashes too), slashes, commas or brackets between them, as a number of its
  own;
- its words as a phrase, in any case, with any punctuation or spacing between them;
- for a name, in its own case (a surname "Rose" leaves "prices rose" alone): any two or more of its words in
  a row ("Will Turner" of "Dr Will Turner"), and each of its capitalised words on its own ("Böhm" of
  "Jürgen Böhm") unless it is a stop word or a title ("Will", the "Et" of a hit "Paul Et", "Monsieur"), in
  capitals too ("SMITH") and spelled out ("S-M-I-T-H", "s, m, i, t, h"); a name found spelled out also as
  the word it spells ("K-O-W-A-L-S-K-I … Mr Kowalski");
- for an e-mail address written out, the part before its "@" where it is a user name ("cminh730",
  "anna.schmidt"): the caller's login or user name is the same word ("Username: cminh730").
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from spacy.lang.de.stop_words import STOP_WORDS as GERMAN
from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH
from spacy.lang.es.stop_words import STOP_WORDS as SPANISH
from spacy.lang.fr.stop_words import STOP_WORDS as FRENCH

from callsense.calls.schemas import Segment
from callsense.config.redaction import EntityType
from callsense.redaction import RedactedSpan
from callsense.redaction.digits import normalise, number_language
from callsense.redaction.spelling import MIN_LETTERS, letter_said, spellings
from callsense.redaction.words import EDGE_PUNCTUATION

_PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*)\]")
# Fewer digits than this recur too often by chance (an amount, a year, a house number) to be taken out
# wherever they stand; a security code or PIN is still found by its context word.
MIN_DIGITS = 6
# Between its digits, what a writer (the LLM's summary) puts in a number: spaces, dots, slashes, hyphens and
# the typographic dashes (an en dash, U+2013, between a card's groups), commas, brackets ("(0171) 234-567").
_DIGIT_GAP = r"[\s./\-\u2010-\u2015\u2212,()]*"
# A name hit now and then takes the capitalised word after it ("Je suis Paul Et je…", "this is Tom Can you…"),
# or is a title alone (the French NER model's "Au revoir, [NAME]." for "Monsieur"): such a word recurs at the
# start of every other sentence, so a name's words that are stop words of any of the four languages, or
# titles, are not looked for on their own (a caller named Will included). A title is redacted with the name
# it stands before wherever the two recur together.
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "sir", "madam", "herr", "frau", "señor", "señora", "señorita"}
_COMMON_WORDS = frozenset(
    ENGLISH | SPANISH | GERMAN | FRENCH | _TITLES | {"monsieur", "madame", "mademoiselle"}
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")  # "Böhm", "O'Brien", "Marie-Claire"
# An e-mail address's user part of this many characters, with a digit, dot or underscore, is taken out
# wherever it recurs alone (a login, a user name); shorter ones are too often something else ("a.b").
_MIN_USER_NAME = 5


@dataclass(frozen=True)
class SaidValue:
    """A value redacted in the turns, as the type it was redacted as and the pattern it recurs by."""

    entity: str
    pattern: re.Pattern[str]


@dataclass
class _Span:
    entity: str
    words: list[str]


def said_values(original: list[Segment], redacted: list[Segment], *, language: str | None) -> list[SaidValue]:
    """The values the redaction of ``original`` took out (``redacted`` is its result), most specific first."""
    return _patterns(_diff_spans(original, redacted), language)


def span_values(
    segments: list[Segment], spans: list[RedactedSpan], *, language: str | None
) -> list[SaidValue]:
    """The values under ``spans`` of ``segments``, most specific first."""
    words = [
        _Span(span.entity, word_texts(segments[span.segment])[span.first_word : span.last_word + 1])
        for span in spans
    ]
    return _patterns(words, language)


def recurring_spans(
    segments: list[Segment], spans: list[RedactedSpan], values: list[SaidValue]
) -> list[RedactedSpan]:
    """Spans over the words of ``segments`` where one of ``values`` recurs, outside ``spans``."""
    covered = {(span.segment, i) for span in spans for i in range(span.first_word, span.last_word + 1)}
    found: list[RedactedSpan] = []
    for number, segment in enumerate(segments):
        texts = word_texts(segment)
        ends = list(itertools.accumulate(len(text) for text in texts))
        joined = "".join(texts)
        for value in values:
            for match in value.pattern.finditer(joined):
                first = bisect.bisect_right(ends, match.start())
                last = bisect.bisect_left(ends, match.end())
                indices = {(number, index) for index in range(first, last + 1)}
                if indices & covered:
                    continue
                covered |= indices
                timed = segment.words
                start = timed[first].start if timed else segment.start
                end = timed[last].end if timed else segment.end
                found.append(RedactedSpan(number, first, last, start, end, segment.speaker, value.entity))
    return found


def word_texts(segment: Segment) -> list[str]:
    """The turn's words as the redactor reads them: Whisper's, or its text split at spaces without them."""
    return [word.text for word in segment.words] if segment.words else re.findall(r"\s*\S+", segment.text)


def _patterns(spans: list[_Span], language: str | None) -> list[SaidValue]:
    spoken = number_language(language)
    found: dict[tuple[str, str], SaidValue] = {}
    for span in spans:
        for value in _values(span, spoken):
            found.setdefault((value.entity, value.pattern.pattern), value)
    # A phrase before the words it holds: "Jürgen Böhm" is one placeholder, not two.
    return sorted(found.values(), key=lambda value: len(value.pattern.pattern), reverse=True)


def redact_said(text: str, values: list[SaidValue]) -> str:
    """``text`` with every recurrence of ``values`` replaced by its type in brackets."""
    for value in values:
        text = value.pattern.sub(f"[{value.entity}]", text)
    return text


def _diff_spans(original: list[Segment], redacted: list[Segment]) -> list[_Span]:
    """The original words under each placeholder: the redacted word that carries ``[TYPE]`` and the emptied
    words after it (a placeholder right after one of the same type goes on with it)."""
    spans: list[_Span] = []
    for said, shown in zip(original, redacted, strict=True):
        if len(said.words) != len(shown.words):  # turns without word timings: nothing to line up
            continue
        current: _Span | None = None
        for before, after in zip(said.words, shown.words, strict=True):
            placeholder = _PLACEHOLDER.fullmatch(after.text.strip())
            if before.text == after.text:
                current = None
            elif placeholder is not None and (current is None or current.entity != placeholder[1]):
                current = _Span(placeholder[1], [before.text])
                spans.append(current)
            elif current is not None:
                current.words.append(before.text)
    return spans


def _values(span: _Span, language: str) -> list[SaidValue]:
    values: list[SaidValue] = []
    digits = re.sub(r"\D", "", normalise(span.words, language=language, turn_ends=set(), joined=True).text)
    if len(digits) >= MIN_DIGITS:
        number = _DIGIT_GAP.join(digits)
        values.append(SaidValue(span.entity, re.compile(rf"(?<!\d){number}(?!\d)")))
    words = [word for word in (text.strip().strip(EDGE_PUNCTUATION) for text in span.words) if word]
    name = span.entity == EntityType.name.value
    if any(ch.isalpha() for word in words for ch in word) and not name:
        values.append(SaidValue(span.entity, _phrase(words, re.IGNORECASE)))
    if span.entity == EntityType.email.value:
        values += [SaidValue(span.entity, _phrase([user], re.IGNORECASE)) for user in _user_names(words)]
    if name:  # in its own case ("Rose Miller" leaves "rose" alone), and any two or more of its words in a row
        parts, spelled = _name_parts(span.words)
        runs = [part[i:j] for part in parts for i in range(len(part)) for j in range(i + 2, len(part) + 1)]
        runs = [run for run in runs if any(len(word) > 1 for word in run)]  # letters alone: spelled, below
        values += [SaidValue(span.entity, _phrase(run, re.NOFLAG)) for run in runs]
        for word in [*itertools.chain(*parts), *spelled]:
            common = word.lower() in _COMMON_WORDS
            if len(word) > 1 and word[0].isupper() and _NAME_WORD.fullmatch(word) and not common:
                # in capitals too: Whisper runs a spelled name's letters together now and then ("SMITH")
                forms = {word, word.upper()}
                values += [SaidValue(span.entity, _phrase([form], re.NOFLAG)) for form in forms]
                letters = [character for character in word if character.isalpha()]
                # fewer letters are spelled by chance ("I, T, …")
                if len(letters) >= MIN_LETTERS:
                    values.append(SaidValue(span.entity, _spelled(letters)))
    return values


def _user_names(words: list[str]) -> list[str]:
    """The part before the "@" of an address written out, where it is a user name of its own ("cminh730",
    "anna.schmidt", "j_perez"), which recurs as the caller's user name or login; not a word ("support@…")."""
    users = [word.split("@")[0] for word in words if "@" in word]
    return [user for user in users if len(user) >= _MIN_USER_NAME and re.search(r"[\d._]", user)]


def _name_parts(said: list[str]) -> tuple[list[list[str]], list[str]]:
    """A name's words, in the runs between its spellings, and the words it spells ("John S as in Sam, M as in
    Mary, I, T, H": "John", and "Smith"): "as in", "Sam" and "Mary" are none of the name's."""
    text = "".join(said)
    found = spellings(text)
    parts: list[list[str]] = [[]]
    end = 0
    for text_of_word in said:
        start, end = end, end + len(text_of_word)
        if any(spelling.start < end and start < spelling.end for spelling in found):
            parts.append([])
        elif word := text_of_word.strip().strip(EDGE_PUNCTUATION):
            parts[-1].append(word)
    # a word of fewer letters is spelled by chance ("T as in Tom, H as in Henry": "Th")
    return [part for part in parts if part], [
        spelling.word for spelling in found if len(spelling.word) >= MIN_LETTERS
    ]


def _spelled(letters: list[str]) -> re.Pattern[str]:
    """A name's letters said one by one, in any case, with spaces, dots, commas or hyphens between them, each
    alone or with a word for it ("S as in Sam", "Sierra")."""
    joined = r"[\s.,\-]+".join(letter_said(letter) for letter in letters)
    return re.compile(rf"(?<![^\W\d_]){joined}(?![^\W\d_])", re.IGNORECASE)


def _phrase(words: list[str], flags: re.RegexFlag) -> re.Pattern[str]:
    """``words`` in a row, with any punctuation or spacing between them, as words of their own."""
    joined = r"\W+".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w){joined}(?!\w)", flags)
