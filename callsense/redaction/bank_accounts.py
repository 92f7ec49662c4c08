"""Bank accounts: the IBAN, written or read out (its checksum and country format checked), and on English
calls the American account number a caller reads out to pay by bank transfer (8 to 17 digits, Presidio's
pattern), which has no check to tell it: only next to "account", "checking", "savings", "bank", "routing";
with it the number of the bank, which a payment by bank transfer or direct debit asks for too: an American
routing number (nine digits, a check digit) next to "routing", a British sort code (six digits) next to
"sort code". Both are redacted as the bank account they go with."""

from __future__ import annotations

import itertools

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import AbaRoutingRecognizer, IbanRecognizer, UsBankRecognizer

from callsense.config.redaction import EntityType

# The words that name a bank's number; the engine lends them from a question to its answer too.
BANK_CODE_WORDS = ["routing", "aba", "sort"]
ROUTING_NUMBER = "RoutingNumberRecognizer"
SORT_CODE = "SortCodeRecognizer"


class SpokenIbanRecognizer(IbanRecognizer):
    """An IBAN read out: the country code stands apart from the digits the joined view gathers ("ES
    9121000418…"), which Presidio's pattern does not take, and its two letters may stand apart too, as
    Whisper writes letters said one by one ("D E 89 3704…"). The checksum and the country's format are checked
    as for a written one; the recognizer reports its pattern's groups, so the whole IBAN is one."""

    PATTERNS = [  # noqa: RUF012 (Presidio's own form: its __init__ reads the class's list)
        Pattern("IBAN read out", r"(?<![A-Z0-9])([A-Z] ?[A-Z] [0-9]{2}[0-9A-Z]{11,30})(?![A-Z0-9])", 0.5)
    ]


def ibans(language: str, context: list[str]) -> list[EntityRecognizer]:
    """The IBAN as written and as read out, in any language."""
    return [
        IbanRecognizer(supported_language=language, context=context),
        SpokenIbanRecognizer(supported_language=language, context=context),
    ]


# Not "IBAN": an IBAN that fails its check is no account number either.
_AMERICAN_ACCOUNT_WORDS = ["account", "acct", "bank", "checking", "savings", "routing"]


def american_accounts(language: str) -> list[EntityRecognizer]:
    """The US account number, routing number and the British sort code, on an English call: by their
    context words only (``named_as_bank_code``)."""
    if language != "en":
        return []
    return [
        UsBankRecognizer(supported_language=language, context=_AMERICAN_ACCOUNT_WORDS),
        # Its check digit passes one number in ten: Presidio then scores it 1.0, context or none, so the
        # engine keeps it only where "routing" or "ABA" raised it.
        AbaRoutingRecognizer(
            supported_language=language,
            supported_entity=EntityType.bank_account.value,
            context=["routing", "aba"],
            name=ROUTING_NUMBER,
        ),
        PatternRecognizer(
            supported_entity=EntityType.bank_account.value,
            # Read in the digits-joined view: "20-00-00", "40 47 84" are six digits there.
            patterns=[Pattern("sort code", r"(?<![\d.,])\b\d{6}\b(?![.,]\d)", 0.05)],
            context=["sort"],
            supported_language=language,
            name=SORT_CODE,
        ),
    ]


def named_as_bank_code(recognizer: str | None, supporting_word: str, around: list[str]) -> bool:
    """Whether a hit of ``recognizer`` (one of ``american_accounts``') has the words that name it: a routing
    number its "routing"/"ABA" as ``supporting_word`` (the context word that raised it), a sort code "sort
    code" in the words ``around`` it (lower case): not "a sort of 250000"."""
    if recognizer == ROUTING_NUMBER:
        return bool(supporting_word)
    if recognizer == SORT_CODE:
        return any(pair == ("sort", "code") for pair in itertools.pairwise(around))
    return True
