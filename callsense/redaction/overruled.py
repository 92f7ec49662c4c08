"""The words around a value that overrule the recognizer that found it.

A recognizer sees a value's form and a context word near it; the sentence around it, and the question it
answers, can say more: that ten digits are an order's number, though libphonenumber takes them for a phone,
that "código de error 404" is no card's security code, or that four digits next to "social media" are no
SSN's last four. A question for a "code" that names no card is read with the card words said before it
(``card_talk``): "And the code?" after the card number asks for the card's.
"""

from __future__ import annotations

from collections.abc import Iterable

from presidio_analyzer import RecognizerResult

from callsense.config.redaction import EntityType
from callsense.redaction.bank_accounts import ACCOUNT_BY_WORDS, account_form, named_as_bank_code
from callsense.redaction.context_words import any_said
from callsense.redaction.digits import written_date
from callsense.redaction.identifiers import (
    named_as_account,
    named_as_identifier,
    question_before,
    sentence_after,
    sentence_before,
)
from callsense.redaction.national_ids import SSN_LAST_FOUR, named_as_id_number, named_as_last_four
from callsense.redaction.recognizers import CARD_WORDS, MISHEARD
from callsense.redaction.security_codes import PASSCODE, WEAK_WORDS, named_as_security_code
from callsense.redaction.spelling import SPELL_WORDS, SPELLING_RECOGNIZER, in_lower_case_letters


def overruled(
    result: RecognizerResult,
    entity: str,
    recognizer: str | None,
    text: str,
    asked: list[str] | None,
    language: str,
) -> bool:
    """Whether the words around ``result`` in ``text`` (its sentence, a question just before it, and
    ``asked``: the question it answers) say it is not what its recognizer took it for: an order's number is
    no phone ("Order ID: 3348917502") nor, by its "ID", "bank" or "PIN" alone, a person's id, account or
    passcode ("the bank transaction ID is…", "the PIN reset reference is 48291734"), and a customer's word
    names an id only with "number" ("Kundennummer", not "250000 customers": ``named_as_id_number``); nor
    is a date written with dots ("3.3.2024"); "código de error 404" or "au dos de la facture" is no card's
    code (``named_as_security_code``); four digits said with "social" are an SSN's only as its last four ("the
    last four of your social?", not "social media in 2024"); nine digits are a routing number only where
    "routing" or "ABA" raised them, six a sort code only next to "sort code" (``named_as_bank_code``), and
    a number an account word names is the account's, not a phone's ("Kontonummer 532013000");
    letters alone in lower case spell a name only where spelling was asked for or said ("s, m, i, t, h")."""
    value = text[result.start : result.end]
    if entity == EntityType.phone_number and written_date(value):
        return True  # libphonenumber takes "3.3.2024" for a German number
    around = [
        *question_before(text, result.start),
        *sentence_before(text, result.start),
        *sentence_after(text, result.end),
        *(asked or []),
    ]
    explanation = result.analysis_explanation
    supporting = explanation.supportive_context_word if explanation else ""
    by_words_alone = recognizer in (MISHEARD, ACCOUNT_BY_WORDS, PASSCODE)
    if (
        entity == EntityType.phone_number
        and account_form(language, value)
        and named_as_account(sentence_before(text, result.start), asked)
    ):
        return True  # the account recognizer has it as what it is: "Kontonummer [BANK_ACCOUNT]"
    if entity == EntityType.phone_number or (
        entity in (EntityType.national_id, EntityType.bank_account, EntityType.security_code)
        and by_words_alone
    ):
        if named_as_identifier(sentence_before(text, result.start), asked):
            return True
        if entity == EntityType.national_id:
            return not named_as_id_number(supporting, around)
        if entity != EntityType.security_code:
            return False
    if entity == EntityType.security_code:
        return not named_as_security_code(supporting, around, language, CARD_WORDS)
    if entity == EntityType.bank_account:
        return not named_as_bank_code(recognizer, supporting, around)
    if recognizer == SPELLING_RECOGNIZER and in_lower_case_letters(value):
        return not any_said(SPELL_WORDS, around)
    return recognizer == SSN_LAST_FOUR and not named_as_last_four(around)


def card_talk(asked: list[str], earlier: Iterable[str]) -> list[str]:
    """The card words among ``earlier`` (the words of the turns before a question, lower case; read only
    when needed) where the question's words (``asked``) name a code or back word but no card: "¿Y el
    código?" after the card number was given is a question for the card's code."""
    if not any_said(WEAK_WORDS, asked) or any_said(CARD_WORDS, asked):
        return []
    return [word for word in earlier if any_said(CARD_WORDS, [word])]
