"""The national id numbers of each language with recognizers: Presidio's own (US SSN, British National
Insurance and NHS numbers, Spanish DNI/NIF and NIE, German tax id) with their checks, the forms Whisper
writes them in (letters apart from the digits), and the French NIR."""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    DeTaxIdRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    NhsRecognizer,
    UkNinoRecognizer,
    UsSsnRecognizer,
)

from callsense.config.redaction import EntityType
from callsense.redaction.context_words import NUMBER_WORDS, any_said

# A customer's or member's word names an id only with "number" ("customer number", "Kundennummer",
# ``named_as_id_number``): not "250000 customers".
CUSTOMER_WORDS = ("customer", "kunden", "client", "membership", "mitglied", "socio", "adhérent")
# What names an id number, in the four languages: an identity card's, a passport's ("Reisepass",
# "Passnummer"), a driving licence's ("license", "licence", "licencia", "Führerschein", "permis de
# conduire", "carnet de conducir"), a tax number's ("numéro fiscal", "Steuernummer"), a health or pension
# insurance's ("Versichertennummer", "Sozialversicherungsnummer", "Krankenkasse"), a
# customer's or member's ("Kundennummer", "número de cliente", "numéro de client", "membership number": it
# identifies the caller; lent by the question that asks for it too) as well as the national ones.
NATIONAL_ID_WORDS = [
    "social", "ssn", "dni", "nie", "nif", "id", "identit", "identidad", "identificat", "identifikat",
    "steuer", "sécu", "sociale", "insee", "insurance", "nino", "nhs", "passport", "pasaporte", "passeport",
    "ausweis", "reisepass", "passnummer", "licen", "führerschein", "conduire", "conducir", "fiscal",
    "versicher", "krankenkass", *CUSTOMER_WORDS,
]  # fmt: skip

# What names an NHS number, and how many characters before it ("my NHS number is", "the health service
# number I have is").
_NHS_WORDS = re.compile(r"\b(?:nhs|health)\b", re.IGNORECASE)
_NHS_WORDS_BEFORE = 40


class NhsNumberRecognizer(NhsRecognizer):
    """The British NHS number: ten digits, the last a check digit (mod 11). One ten-digit number in eleven
    passes the check, a North American phone number as well: it counts only where "NHS" or "health" was
    said just before it."""

    def __init__(self, language: str, context: list[str]) -> None:
        super().__init__(
            context=[*context, "health"], supported_language=language, name="NhsNumberRecognizer"
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        found: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in found if _NHS_WORDS.search(text, max(r.start - _NHS_WORDS_BEFORE, 0), r.start)]


class FrenchNirRecognizer(PatternRecognizer):
    """The French social security number (NIR): 15 digits, the last two a key (97 - number mod 97)."""

    def __init__(self, language: str, context: list[str]) -> None:
        pattern = Pattern(
            "NIR", r"\b[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?\d{2}\s?\d{3}\s?\d{3}\s?\d{2}\b", 0.5
        )
        super().__init__(
            supported_entity=EntityType.national_id.value,
            patterns=[pattern],
            context=context,
            supported_language=language,
            name="FrenchNirRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"\D", "", pattern_text)
        return 97 - int(digits[:13]) % 97 == int(digits[13:])


def named_as_id_number(supporting_word: str, words: list[str]) -> bool:
    """Whether an id raised by ``supporting_word`` (its context word) is named as one: a customer's or
    member's word only with "number" among ``words`` (lower case: the value's sentence and the question it
    answers)."""
    return supporting_word not in CUSTOMER_WORDS or any_said(NUMBER_WORDS, words)


# The last four digits of an SSN, which American agents ask for to verify a caller ("Can I get the last four
# of your social?"), in English and Spanish ("los últimos cuatro de su seguro social"): four digits said
# with "social" or "SSN" and a word for the last ones (the engine checks it: not "social media in 2024").
SSN_LAST_FOUR = "SsnLastFourRecognizer"
_LAST_WORDS = {"last", "ends", "ending", "end", "últimos", "últimas", "termina", "terminan", "final"}


def named_as_last_four(words: list[str]) -> bool:
    """Whether ``words`` (lower case: a value's sentence and the question it answers) name the last digits."""
    return not _LAST_WORDS.isdisjoint(words)


def _ssn_last_four(language: str) -> EntityRecognizer:
    return PatternRecognizer(
        supported_entity="US_SSN",
        patterns=[Pattern("SSN's last four", r"\b\d{4}\b", 0.15)],  # over a security code's 0.1
        context=["social", "ssn"],
        supported_language=language,
        name=SSN_LAST_FOUR,
    )


def national_ids(language: str, context: list[str]) -> list[EntityRecognizer]:
    """The national id recognizers of ``language`` (en, es, de or fr), raised by the ``context`` words."""

    def apart(
        recognizer: Callable[..., EntityRecognizer], name: str, regex: str, score: float
    ) -> EntityRecognizer:
        """``recognizer``, its check kept, on the form Whisper writes: letters apart from the digits."""
        return recognizer(
            patterns=[Pattern(f"{name} letters apart", regex, score)],
            supported_language=language,
            context=context,
            name=f"Spaced{name.title()}Recognizer",
        )

    if language == "en":
        return [
            UsSsnRecognizer(supported_language=language, context=context),
            _ssn_last_four(language),
            UkNinoRecognizer(supported_language=language, context=context),
            # A National Insurance number's prefix letters apart ("A B 12 34 56 C"): only next to its words.
            apart(
                UkNinoRecognizer,
                "NINO",
                r"\b[A-CEGHJ-PR-TW-Z] [A-CEGHJ-NPR-TW-Z] ?(?:[0-9]{2} ?){3}[A-D]\b",
                0.3,
            ),
            NhsNumberRecognizer(language, context),
        ]
    if language == "es":
        return [
            _ssn_last_four(language),
            EsNifRecognizer(supported_language=language, context=context),
            # A DNI read out with its letter's name, written with the letter apart ("12345678 Z").
            apart(EsNifRecognizer, "NIF", r"\b[0-9]{8} [A-Z]\b", 0.5),
            EsNieRecognizer(supported_language=language, context=context),
            # A NIE's letters apart from its digits ("X 1234567 L"), as Whisper writes them.
            apart(EsNieRecognizer, "NIE", r"\b[X-Z] [0-9]{7} [A-Z]\b", 0.5),
        ]
    if language == "de":
        return [DeTaxIdRecognizer(supported_language=language, context=context)]
    return [FrenchNirRecognizer(language, context)]
