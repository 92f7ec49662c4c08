"""Bank accounts: the IBAN, written or read out (its checksum and country format checked), and on English
calls the American account number a caller reads out to pay by bank transfer (8 to 17 digits, Presidio's
pattern), which has no check to tell it: only next to "account", "checking", "savings", "bank", "routing"."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, Pattern
from presidio_analyzer.predefined_recognizers import IbanRecognizer, UsBankRecognizer


class SpokenIbanRecognizer(IbanRecognizer):
    """An IBAN read out: the country code stands apart from the digits the joined view gathers ("ES
    9121000418…"), which Presidio's pattern does not take. The checksum and the country's format are checked
    as for a written one; the recognizer reports its pattern's groups, so the whole IBAN is one."""

    PATTERNS = [  # noqa: RUF012 (Presidio's own form: its __init__ reads the class's list)
        Pattern("IBAN read out", r"(?<![A-Z0-9])([A-Z]{2} [0-9]{2}[0-9A-Z]{11,30})(?![A-Z0-9])", 0.5)
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
    """The US account number, on an English call: by its context words only."""
    if language != "en":
        return []
    return [UsBankRecognizer(supported_language=language, context=_AMERICAN_ACCOUNT_WORDS)]
