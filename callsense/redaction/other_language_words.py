"""Common words of another language that an NER model takes for a name inside a sentence it reads as its own.

``sentence_language.py`` gives a whole sentence of another language that language's rules, but a German noun
inside an English sentence ("She wants her Geld back.": German writes every noun with a capital) and a short
turn of a language it does not tell ("Teşekkür ederim.", Turkish thanks, 14 letters) are read as English, and
the English model took "Geld" and "Teşekkür" for persons. wordfreq's word lists (Wikipedia, subtitles, news,
web text and more, each list inside the wheel; no network) tell such a word by how often it is written: it
is common in its language ("Geld" Zipf 5.6, "Teşekkür" 5.5: Zipf 5 is once in 10,000 words) and at least 1,000
times rarer in the sentence's (Zipf 3 less: "Geld" 2.1 in English). A name is written in the news and books of
every language (Anna, Weber, Jürgen: at most 100 times rarer in English than in German) until it belongs to
a people English seldom writes about: Turkish, Polish and Hungarian surnames (Öztürk, Zieliński, Kovács) are
as rare in English as "Teşekkür", and many are common words of their language (Kaya, Demir, Nagy). So a
word's frequencies count only where its capital says nothing:

- a German noun, anywhere in the sentence ("her Geld back", "said Lieferung"), German's common word with
  Zipf 3 or more (of 170 common German surnames and given names none is 1,000 times rarer in English:
  König comes nearest, 980 times, then Lange, 250, and Weiß, 170);
- a word at a sentence's start, or in lower case, when every word of the sentence is a common word of
  another language (Zipf 3.5 or more) and the sentence holds more than the hit's capitalised words
  ("Teşekkür ederim.", "Dziękuję bardzo."): a sentence with a word of its own ("Kovács called
  yesterday."), or made only of capitalised words ("Kovács.", "Ayşe Kaya."), keeps its name, and so does
  a capitalised word inside a sentence ("Teşekkürler, Demir bey.").
"""

from __future__ import annotations

import regex
from wordfreq import zipf_frequency

# German writes each noun with a capital: the NER models take its common nouns for names inside a sentence.
_NOUNS_CAPITALISED = "de"
_COMMON_NOUN = 3.0  # Zipf in German: "Überweisung" 3.6, "Mahnung" 3.4
_COMMON = 3.5  # Zipf in another language, for a sentence made of its words (Turkish "how are you?" 3.95)
_RARER = 3.0  # Zipf less in the language the sentence is read in: 1,000 times rarer
# The Latin-script languages wordfreq has that a contact center in Europe or the Americas hears most.
_OTHER_LANGUAGES = (
    "en", "de", "es", "fr", "it", "nl", "pt", "ca", "tr", "pl", "cs", "sk", "ro", "hu", "sv", "da", "nb",
    "fi",
)  # fmt: skip
_WORD = regex.compile(r"\p{L}+(?:['\u2019]\p{L}+)*")  # either apostrophe Whisper writes


def _common_noun(word: str, read_as: str) -> bool:
    if read_as == _NOUNS_CAPITALISED:
        return False
    there = zipf_frequency(word, _NOUNS_CAPITALISED, wordlist="small")
    return there >= _COMMON_NOUN and there - zipf_frequency(word, read_as) >= _RARER


def _word_of_another_language(word: str, read_as: str) -> bool:
    here = zipf_frequency(word, read_as)
    return any(
        (there := zipf_frequency(word, language, wordlist="small")) >= _COMMON and there - here >= _RARER
        for language in _OTHER_LANGUAGES
        if language != read_as
    )


def other_language_words(text: str, hit: tuple[int, int], sentence: tuple[int, int], read_as: str) -> bool:
    """Whether ``text[hit[0]:hit[1]]``, an NER model's name in the sentence ``text[sentence[0]:sentence[1]]``
    read as ``read_as``, is made of common words of another language (module docstring)."""
    words = [word.group() for word in _WORD.finditer(text, *hit)]
    if not words:
        return False
    if all(_common_noun(word, read_as) for word in words):
        return True
    starts_sentence = _WORD.search(text, sentence[0], hit[0]) is None
    capitalised = [word for word in words if word[0].isupper()]
    said = [word.group() for word in _WORD.finditer(text, *sentence)]
    return (
        (starts_sentence or not capitalised)
        and len(said) > len(capitalised)  # more than a name: "Ayşe Kaya." is one
        and all(_word_of_another_language(word, read_as) for word in said)
    )
