"""Which language a sentence is in, when it is not the one it is read in (py3langid's bundled model).

A call has one language, Whisper's guess for the whole recording, and every translation and analysis is
redacted as English; so a German caller's "Wo ist meine Lieferung?" in a call taken for English, or a Spanish
turn quoted in a summary, reaches the English NER model, which took "Lieferung", "Geld", "Ihre Geduld" and
"lo mismo" for persons. py3langid (langid.py's naive Bayes over byte n-grams, its model inside the wheel, no
network) tells such a sentence among the languages below. A sentence counts as another language only when
the one it is read in keeps at most 1% of the probability, and it has 15 letters or more: a name's letters
("Jürgen Böhm", "José", "Zoë") can pull a short sentence towards their language, so a short one ("Thanks,
Jürgen.", "Obrigado, João.") and one that may be either keep the language it is read in. This library
replaced a hand-written vote of each language's function words: on the same texts it leaves fewer false
names and misses fewer (docs/benchmarks.md, "Telling a sentence's language: a library").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# The Latin-script languages a call taken for English or French most often holds a turn of.
_LANGUAGES = ["en", "de", "es", "fr", "it", "nl", "pt"]
_MIN_LETTERS = 15
_MAX_PROBABILITY_READ_AS = 0.01
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Where each sentence of ``text`` starts and ends: after ".", "!", "?" or "…" and a space."""
    start = 0
    for end in _SENTENCE_END.finditer(text):
        yield start, end.start()
        start = end.end()
    if start < len(text):
        yield start, len(text)


@functools.cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(_LANGUAGES)
    return identifier


def sentence_language(sentence: str, read_as: str) -> str | None:
    """The language ``sentence`` is most likely in when it is surely not ``read_as``; None when it is, may
    be, or is too short to tell."""
    if sum(character.isalpha() for character in sentence) < _MIN_LETTERS:
        return None
    probabilities: dict[str, float] = dict(_identifier().rank(sentence))
    if probabilities.get(read_as, 0.0) > _MAX_PROBABILITY_READ_AS:
        return None
    return max(probabilities, key=probabilities.__getitem__)
