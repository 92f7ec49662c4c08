"""Postal codes: a British postcode (Presidio's pattern), and the five digits of an American ZIP code or a
Spanish, German or French postal code with the town after it ("10115 Berlin", "75001 Paris"). Each counts
only next to "postcode", "zip", "código postal", "Postleitzahl", "code postal", an address word, or in answer
to a question naming one: five digits alone could be an order, an amount, a part; or, for a ZIP code, right
after its state ("Austin, Texas 78701"), and for the others, with their town, after a street ("rue de la
Paix, 75002 Paris"). Four digits count next to a postal code's own words only."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import UkPostcodeRecognizer

# Presidio's name for the five-digit codes, read in the digits-joined view (``engine``): a code read out digit
# by digit ("eins null eins eins fünf", "veintiocho cero trece") is five digits only there.
POSTAL_CODE = "POSTAL_CODE"
# Matched inside words, as every context word: "postal" in "código postal", "wohn" in "wohne", "Wohnort",
# "postleit" in "Postleitzahl" and in the "Postleitsaal" Whisper writes for it.
ADDRESS_WORDS = ["postcode", "postal", "zip", "postleit", "plz", "address", "dirección", "domicilio",
                 "anschrift", "adresse", "wohn", "vivo", "habite"]  # fmt: skip
_POSTAL_CODE_WORDS = ADDRESS_WORDS[:5]  # the code's own words, not an address's
# A street named just before a code and its town: "Douze rue de la Paix, soixante-quinze zéro zéro deux
# Paris" (the street's own pattern takes a code written in digits after it, not one read out, which only the
# joined view gathers); not "dans la rue, 10000 personnes".
_STREET_WORDS = ["calle", "avenida", "plaza", "paseo", "straße", "strasse", "allee", "platz", "rue", "avenue",
                 "boulevard"]  # fmt: skip
# The codes' ranges: Spain's 01-52 provinces, France's 01-98 departments (Corsica's 20, overseas 97-98).
_DIGITS = {
    "en": r"\d{5}",
    "es": r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}",
    "de": r"(?:0[1-9]|[1-9]\d)\d{3}",
    "fr": r"(?:0[1-9]|[1-8]\d|9[0-8])\d{3}",
}
# The town after the code, one or two capitalised words ("Frankfurt Main", "Saint-Denis"); an American state
# and town come before the ZIP code.
_TOWN = r"(?-i:(?:\s[A-ZÀ-Ý][\w'-]+){1,2})"  # Presidio matches ignoring case
# What may follow a Spanish, German or French street and number: ", 10115 Berlin".
AFTER_A_STREET = rf"(?:,?\s\d{{5}}{_TOWN}?)?"
_STATES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
    "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|"
    "Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|D\\.?C\\.?"
)
_STATE_CODES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
# An American ZIP code (and its four more digits, joined to it in the views) after its state, said
# ("Springfield, Illinois 62704") or written as its code after a town (", IL 62704"): an address without a
# context word.
_ZIP_AFTER_STATE = Pattern(
    "ZIP code after its state",
    rf"(?<=(?-i:\b(?:{_STATES})|,\s(?:{_STATE_CODES})),?\s)\d{{5}}(?:[\s-]?\d{{4}})?\b(?![.,]\d)",
    0.5,
)


def postal_codes(language: str) -> list[EntityRecognizer]:
    """The postal code recognizers of one of the languages with recognizers."""

    def recognizer(name: str, pattern: Pattern, context: Sequence[str] = ()) -> EntityRecognizer:
        return PatternRecognizer(
            supported_entity=POSTAL_CODE,
            patterns=[pattern],
            context=list(context),
            supported_language=language,
            name=name,
        )

    town = "" if language == "en" else f"(?:{_TOWN})?"
    digits = rf"(?<![\d.,])\b{_DIGITS[language]}\b"
    # Scored 0.1: redacted only with a context word (0.45).
    five_digits = recognizer(
        "PostalCodeRecognizer",
        Pattern("five-digit postal code", rf"{digits}(?![.,]\d){town}", 0.1),
        ADDRESS_WORDS,
    )
    # Four digits: the codes of Switzerland, Austria, Belgium, Denmark, Australia ("Postleitzahl 8001"), and
    # a five-digit code Whisper heard a digit short ("Mi código postal es 28.03"): by a postal code's own
    # words, and one that could be a year only with its town ("2000 Neuchâtel", not "the postal strike in
    # 2023").
    four = rf"(?:(?!(?:19|20)\d\d)\d{{4}}\b(?![.,]\d){town}|(?:19|20)\d\d\b{_TOWN})"
    four_digits = recognizer(
        "FourDigitPostalCodeRecognizer",
        Pattern("four-digit postal code", rf"(?<![\d.,])\b{four}", 0.1),
        _POSTAL_CODE_WORDS,
    )
    if language != "en":
        after_a_street = recognizer(
            "PostalCodeAfterStreetRecognizer",
            Pattern("postal code and town", digits + _TOWN, 0.1),
            _STREET_WORDS,
        )
        return [five_digits, four_digits, after_a_street]
    after_state = recognizer("ZipCodeAfterStateRecognizer", _ZIP_AFTER_STATE)
    # Its pattern alone scores 0.1 too: "M1 1AE" could be a part number.
    uk = UkPostcodeRecognizer(context=[*UkPostcodeRecognizer.CONTEXT, *ADDRESS_WORDS])
    return [five_digits, four_digits, after_state, uk]
