"""Which language a sentence is in, by its function words: for a turn read in a language it is not in.

A call has one language, Whisper's guess for the whole recording, and every translation and analysis is
redacted as English; so a German caller's "Wo ist meine Lieferung?" in a call taken for English, or a Spanish
turn quoted in a summary, reaches the English NER model, which took "Lieferung", "Geld", "Ihre Geduld" and
"lo mismo" for persons. A sentence's articles, pronouns, prepositions and auxiliaries tell its language
well enough to keep such a model off it, and unlike the letters (ü, ñ, é), which names have too ("Jürgen
Böhm", "José", "Zoë"), they are never a name. Each list holds only a language's most frequent function words
(and "please", "thanks" and the like); a sentence with none of them, or as many of two languages, is
undecided, and keeps the language it was read in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

_FUNCTION_WORDS = {
    "en": "the an and or but of to on at for with from by about is are was were be been am i you he she it "
    "we they me my your his her our their this that these those not have has had do does did what where when "
    "why how can could would should will there here just please thanks thank yes no i",
    "de": "der die das den dem des ein eine einen einem einer und oder aber ist sind war bin bist habe haben "
    "hat ich du er sie wir ihr mir mich mein meine meinen ihre ihren nicht kein keine mit für von zu zum zur "
    "auf aus bei nach seit wo was wie warum wann bitte danke ja nein auch noch schon nur können kann möchte "
    "es im am um vielen dank",
    "es": "el la los las un una unos y o pero de del que en por para con sin es está están son soy estoy "
    "tengo tiene mi mis su sus yo usted tú me te se le lo no sí muy qué dónde cuándo cómo gracias favor hola "
    "también ya hay este esta eso esto al",
    "fr": "le la les un une des du de et ou mais est sont suis ai avez a je tu il elle nous vous ils elles "
    "on me mon ma mes votre vos ne pas que qui pour avec sans dans sur au aux ce cette ça c oui non merci "
    "bonjour plaît où quand comment pourquoi très bien j",
    "it": "il lo la i gli le un uno una e o ma di da del della che è sono ho ha hai abbiamo mi ti ci si mio "
    "mia suo sua non per con in su dove come quando perché grazie sì buongiorno anche ancora già questo "
    "questa",
    "nl": "de het een en of maar is zijn ben heb hebt heeft ik jij je u hij zij wij we mijn uw niet geen met "
    "voor van op naar bij uit waar wat hoe wanneer waarom dank bedankt alstublieft graag ja nee ook nog al "
    "dat dit deze die er wil kan moet",
    "pt": "o os a as um uma e ou mas de do da dos das que em no na por para com sem é está são sou estou "
    "tenho tem eu você ele ela nós meu minha seu sua não sim obrigado obrigada onde quando como porque "
    "também já muito isso este esta",
}
# A word of several languages' lists ("in", "a", "de", "la", "no") counts for each of them in equal parts.
_LANGUAGES_OF: dict[str, list[str]] = {}
for _language, _words in _FUNCTION_WORDS.items():
    for _word in set(_words.split()):
        _LANGUAGES_OF.setdefault(_word, []).append(_language)
# Letters that only some of these languages write, counted a little, to break a tie of the function words
# ("Año pasado pagué lo mismo": "lo" is Spanish and Italian, "ñ" Spanish), not to outweigh one: names have
# them too ("Thanks, Jürgen" is English).
_LETTERS_OF = {"ñ": ["es"], "¿": ["es"], "¡": ["es"], "ß": ["de"], "ä": ["de"], "ö": ["de"], "ü": ["de"],
               "ç": ["fr", "pt"], "œ": ["fr"], "ê": ["fr", "pt"], "è": ["fr", "it"], "ã": ["pt"], "õ": ["pt"],
               "ì": ["it"], "ò": ["it"]}  # fmt: skip
_LETTER_WEIGHT = 0.1
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Where each sentence of ``text`` starts and ends: after ".", "!", "?" or "…" and a space."""
    start = 0
    for end in _SENTENCE_END.finditer(text):
        yield start, end.start()
        start = end.end()
    if start < len(text):
        yield start, len(text)


def sentence_language(sentence: str) -> str | None:
    """The language most of the sentence's function words belong to, its letters breaking a tie; None when
    it has no function word, or two languages tie."""
    lowered = sentence.lower()
    votes: defaultdict[str, float] = defaultdict(float)
    for word in _WORD.findall(lowered):
        for language in _LANGUAGES_OF.get(word, []):
            votes[language] += 1 / len(_LANGUAGES_OF[word])
    if not votes:
        return None
    for letter in set(lowered) & _LETTERS_OF.keys():
        for language in _LETTERS_OF[letter]:
            votes[language] += _LETTER_WEIGHT / len(_LETTERS_OF[letter])
    ranked = sorted(votes.items(), key=lambda vote: vote[1], reverse=True)
    if len(ranked) > 1 and abs(ranked[0][1] - ranked[1][1]) < 1e-9:
        return None
    return ranked[0][0]
