"""Numbers named as an order, reference or ticket, which are no phone numbers.

Callers and agents read out order, tracking, booking, case and invoice numbers all day ("Order ID:
3348917502", "my order number is…", "la referencia es…", "die Bestellnummer ist…", "le numéro de
commande…"), and libphonenumber takes many of them for valid phone numbers (any ten digits with a North
American area code are one). Redacted as a phone number, the order is lost to the QA team that searches
for it. So a number that a word of this list names just before it (in the same sentence, no phone word
between; the other parts of a code with letters, "1Z 999 AA1", between them too), or that answers a
question naming one and no phone ("…give me the order ID and email" / "7916676427"), is not redacted as a
phone number, nor, by an order's "ID" alone, as an id number. A card number, bank account or national id
is still found by its own check, and a customer or account number is not on the list: it identifies the
caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from callsense.redaction.bank_accounts import ACCOUNT_WORDS
from callsense.redaction.context_words import any_said
from callsense.redaction.recognizers import PHONE_WORDS

# The start of the word that names the number ("order" of "orders", "bestell" of "Bestellnummer").
_IDENTIFIER_WORDS = (
    "order", "tracking", "case", "ticket", "invoice", "confirmation", "booking", "reservation", "claim",
    "reference", "pedido", "referencia", "factura", "seguimiento", "reserva", "incidencia", "expediente",
    "bestell", "auftrag", "referenz", "rechnung", "sendung", "buchung", "vorgang", "commande", "référence",
    "facture", "suivi", "réservation", "dossier", "transaction", "transacci", "transaktion",
)  # fmt: skip
# How many words before the number the name may stand ("order number is 334…", "Bestellnummer lautet …"),
# not counting the code's parts with digits.
_REACH = 4
_SENTENCE_END = re.compile(r"([.!?])(?:\s|$)")  # kept in a split's parts: a question is told by its "?"
_WORD = re.compile(r"(?<!\S)[^\W\d_]+(?:['\u2019-][^\W\d_]+)*(?!\w)")


def identifier_word(word: str) -> bool:
    """Whether ``word`` (lower case) names an order, reference, ticket or the like."""
    return word.startswith(_IDENTIFIER_WORDS)


def sentence_before(text: str, start: int) -> list[str]:
    """The words of the sentence before ``text[start]``, lower case, less the parts of a code with digits."""
    return _words(_SENTENCE_END.split(text[:start])[-1])


def question_before(text: str, start: int) -> list[str]:
    """The words of the sentence before the one of ``text[start]`` where that is a question: a question and
    its answer in one turn ("Can I get the last four of your social? It's 6-7-8-9."), as diarization leaves
    them now and then on a mono call."""
    *sentences, _ = _SENTENCE_END.split(text[:start])
    return _words(sentences[-2]) if sentences and sentences[-1] == "?" else []


def sentence_after(text: str, end: int) -> list[str]:
    """The words of the sentence after ``text[end - 1]``, as ``sentence_before`` gives those before it."""
    return _words(_SENTENCE_END.split(text[end:])[0])


def _words(sentence: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(sentence)]


def named_as_identifier(before: list[str], asked: list[str] | None = None) -> bool:
    """Whether a number is named as an order, reference, ticket…: by the nearest such word among the words
    ``before`` it (lower case) with no phone word between, or else by the question it answers (``asked``, its
    words) when that names one and no phone ("…give me the order ID and email" / "7916676427")."""
    return _named_by(identifier_word, before, asked)


def named_as_account(before: list[str], asked: list[str] | None = None) -> bool:
    """Whether a number is named as a bank account ("Kontonummer", "BLZ", "numéro de compte", "account"), as
    ``named_as_identifier`` reads the words before it and the question it answers, and no phone word is said
    before it in its sentence ("the phone number on the account is…"): it is no phone number, though
    libphonenumber takes "Kontonummer 532013000" for a German one."""
    named = _named_by(lambda word: any_said(ACCOUNT_WORDS, [word]), before, asked)
    return named and not any(map(_phone_word, before))


def _named_by(naming: Callable[[str], bool], before: list[str], asked: list[str] | None) -> bool:
    for word in reversed(before[-_REACH:]):
        if _phone_word(word):  # "order, call me on…"
            return False
        if naming(word):
            return True
    asked = asked or []
    return any(map(naming, asked)) and not any(map(_phone_word, asked))


def _phone_word(word: str) -> bool:
    return any_said(PHONE_WORDS, [word])
