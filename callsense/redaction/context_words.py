"""Where a context word counts: Presidio matches each anywhere inside a word, which German needs ("kart" in
"Kreditkartennummer", "konto" in "Girokonto") and the scripts without spaces need ("卡" in 我的卡号是), but a
short word is inside too many others: "pin" in "shopping", "shipping" and "opinion" made an amount next to
them a security code ("The shipping was [SECURITY_CODE]"), "id" in "paid", "did" and "said" made nine
digits a US social security number, "cell" in "excellent" and "cancellation" a number a phone. So a
Latin-script context word of three letters or fewer counts only as a word of its own or a part of a
compound with hyphens ("pin", "PIN-Nummer", "Telefon-PIN", "Steuer-ID"), one of four letters also as the
start of a word or part ("calling", "Karte", "llámeme", "wohne"), and a longer one, or one in another
script, anywhere inside a word.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import regex
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

# "Number" in each language, said of any number.
NUMBER_WORDS = frozenset({"number", "número", "nummer", "numéro", "номер", "رقم", "מספר", "नंबर", "เบอร์",
                          "번호", "号码", "號碼", "番号", "numara"})  # fmt: skip
_LATIN = regex.compile(r"[\p{Latin}'-]+")
_WHOLE_UP_TO = 3  # letters
_START_UP_TO = 4


def supports(context_word: str, word: str) -> bool:
    """Whether ``word``, said near a value, is ``context_word`` as the rule above reads it."""
    context_word, word = context_word.lower(), word.lower()
    where = _where(context_word)
    if where == "inside":
        return context_word in word
    parts = word.split("-")  # a compound's parts are words of their own: "Telefon-PIN", "Steuer-ID"
    if where == "whole":
        return context_word in parts
    return any(part.startswith(context_word) for part in parts)


def any_said(context_words: Iterable[str], words: Iterable[str]) -> bool:
    """Whether one of ``words`` is one of ``context_words``, as ``supports`` reads them."""
    said = list(words)
    return any(supports(context_word, word) for context_word in context_words for word in said)


@functools.lru_cache(maxsize=1024)
def _where(context_word: str) -> str:
    """Where in a word ``context_word`` (lower case) counts: 'inside', 'start' or 'whole'."""
    if not _LATIN.fullmatch(context_word) or len(context_word) > _START_UP_TO:
        return "inside"
    return "whole" if len(context_word) <= _WHOLE_UP_TO else "start"


class WordContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer (the words around a value, and those the question before it lends), its
    context words matched as ``supports`` reads them."""

    @staticmethod
    def _find_supportive_word_in_context(
        context_list: list[str], recognizer_context_list: list[str], matching_mode: str = "substring"
    ) -> str:
        return next(
            (
                context_word
                for context_word in recognizer_context_list
                if any_said([context_word], context_list)
            ),
            "",
        )
