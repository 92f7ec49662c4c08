"""Bank accounts: the IBAN, written or read out (its checksum and country format checked); the Spanish CCC and
the French RIB that callers still read out (their checks, next to their words); and the account numbers
with no check a caller reads out to pay by bank transfer or direct debit, told only by their words: on
English calls the American account number (8 to 17 digits, Presidio's pattern) next to "account",
"checking", "savings", "bank", "routing", on German calls the Kontonummer (6 to 10 digits) and the
Bankleitzahl (8) next to "Konto…", "Bankleitzahl", "BLZ", on French calls the "numéro de compte" of a RIB
(11 digits) next to "compte". With them on English calls the number of the bank: an American routing
number (nine digits, a check digit) next to "routing", a British sort code (six digits) next to "sort
code". Both are redacted as the bank account they go with. (An account number that fails its check is a
misheard one next to an account word: ``recognizers.language_independent``.)"""

from __future__ import annotations

import itertools
import re

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import AbaRoutingRecognizer, IbanRecognizer

from callsense.config.redaction import EntityType

# The words that name a bank's number; the engine lends them from a question to its answer too.
BANK_CODE_WORDS = ["routing", "aba", "sort"]
ROUTING_NUMBER = "RoutingNumberRecognizer"
ACCOUNT_BY_WORDS = "AccountByWordsRecognizer"  # no check: its context words alone
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


_DOMESTIC_DIGITS = {"es": 20, "fr": 23}


class DomesticAccountRecognizer(PatternRecognizer):
    """An account number as a country's banks wrote it before the IBAN, which callers still read out as
    their "número de cuenta" or "RIB": the Spanish CCC (bank 4, branch 4, two check digits, account 10: the
    IBAN's body) and the French RIB (bank 5, branch 5, account 11, a key of two). Its check is kept, but only
    as a gate: a number of its length passes by chance one time in a hundred, so it counts only next to its
    words (``context``)."""

    def __init__(self, language: str, context: list[str]) -> None:
        # In either view: the groups read out apart ("2100 0418 45 0200051332") or joined.
        regex = rf"(?<![\d.,])\b(?:\d ?){{{_DOMESTIC_DIGITS[language] - 1}}}\d\b(?![.,]\d)"
        super().__init__(
            supported_entity=EntityType.bank_account.value,
            patterns=[Pattern("domestic account", regex, 0.05)],
            context=context,
            supported_language=language,
            name=f"{language.upper()}AccountRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", pattern_text)
        valid = _ccc_valid(digits) if self.supported_language == "es" else _rib_valid(digits)
        return None if valid else False  # None: the score stays the pattern's, to be raised by context


_CCC_WEIGHTS = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)


def _ccc_check_digit(ten: str) -> str:
    remainder = 11 - sum(int(digit) * weight for digit, weight in zip(ten, _CCC_WEIGHTS, strict=True)) % 11
    return {11: "0", 10: "1"}.get(remainder, str(remainder))


def _ccc_valid(digits: str) -> bool:
    """The Spanish CCC's two check digits: one over "00", bank and branch, one over the account."""
    bank_branch, checks, account = digits[:8], digits[8:10], digits[10:]
    return checks == _ccc_check_digit("00" + bank_branch) + _ccc_check_digit(account)


def _rib_valid(digits: str) -> bool:
    """The French RIB's key: 97 less (89 * bank + 15 * branch + 3 * account) mod 97."""
    bank, branch, account, key = int(digits[:5]), int(digits[5:10]), int(digits[10:21]), int(digits[21:])
    return key == 97 - (89 * bank + 15 * branch + 3 * account) % 97


# The account numbers with no check, by language: their form, and the words that name them (not "IBAN": an
# IBAN is none of these). A German Kontonummer has up to ten digits, but one of five or fewer is a
# postal code's or an amount's length.
_ACCOUNT_FORMS = {"en": r"\d{8,17}", "de": r"\d{6,10}", "fr": r"\d{11}"}
_ACCOUNT_WORDS = {
    "en": ["account", "acct", "bank", "checking", "savings", "routing"],
    "de": ["konto", "bankleitzahl", "blz"],
    "fr": ["compte"],
}
ACCOUNT_WORDS = [word for words in _ACCOUNT_WORDS.values() for word in words]
# "150000 Euro auf dem Konto" is an amount.
_NOT_AN_AMOUNT = r"(?!\s?(?:€|\$|£|euros?|eur|dollars?|pounds?|francs?)\b)"


def account_form(language: str, value: str) -> bool:
    """Whether ``value`` (its spaces and dashes aside) has the form of the language's account number with no
    check, which ``named_as_account`` may name."""
    form = _ACCOUNT_FORMS.get(language)
    return form is not None and re.fullmatch(form, re.sub(r"[\s-]", "", value)) is not None


def domestic_accounts(language: str, context: list[str]) -> list[EntityRecognizer]:
    """The account numbers of the language's countries, by their words only (``context``, and
    ``named_as_bank_code``): the Spanish CCC, the French RIB, the accounts with no check (``_ACCOUNT_FORMS``),
    and on an English call the routing number and the British sort code."""
    domestic: list[EntityRecognizer] = []
    if language in _DOMESTIC_DIGITS:
        domestic.append(DomesticAccountRecognizer(language, context))
    if language in _ACCOUNT_FORMS:
        domestic.append(
            PatternRecognizer(
                supported_entity=EntityType.bank_account.value,
                patterns=[
                    Pattern(
                        "account, no check",
                        rf"(?<![\d.,])\b{_ACCOUNT_FORMS[language]}\b(?![.,]\d){_NOT_AN_AMOUNT}",
                        0.05,
                    )
                ],
                context=_ACCOUNT_WORDS[language],
                supported_language=language,
                global_regex_flags=re.IGNORECASE,
                name=ACCOUNT_BY_WORDS,
            )
        )
    if language != "en":
        return domestic
    return [
        *domestic,
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
    """Whether a hit of ``recognizer`` (one of ``domestic_accounts``') has the words that name it: a routing
    number its "routing"/"ABA" as ``supporting_word`` (the context word that raised it), a sort code "sort
    code" in the words ``around`` it (lower case): not "a sort of 250000"."""
    if recognizer == ROUTING_NUMBER:
        return bool(supporting_word)
    if recognizer == SORT_CODE:
        return any(pair == ("sort", "code") for pair in itertools.pairwise(around))
    return True
