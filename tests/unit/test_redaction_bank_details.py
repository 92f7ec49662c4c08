"""What a payment by bank transfer or direct debit asks for besides the account number (an American routing
number, a British sort code, an IBAN read letter by letter), the account numbers Spanish and French banks
wrote before the IBAN and those with no check (a German Kontonummer), an American ZIP code after its state, a
customer's, a driving licence's, an identity card's, a passport's, an insurance's and a tax number, a PIN or
passcode: redacted where their words name them, left where nothing does."""

from __future__ import annotations

import pytest

from callsense.calls.schemas import Speaker
from callsense.config.redaction import RedactionSettings
from callsense.redaction.engine import PresidioRedactor
from tests.unit.redaction_helpers import whisper_turn

AGENT, CUSTOMER = Speaker.agent, Speaker.customer


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor(RedactionSettings())


def redacted(redactor: PresidioRedactor, language: str, *turns: str) -> list[str]:
    """Each turn as redacted, the first one the agent's where there are two."""
    speakers = [AGENT, CUSTOMER] if len(turns) == 2 else [CUSTOMER]
    segments = [
        whisper_turn(speaker, turn, start=10.0 * index)
        for index, (speaker, turn) in enumerate(zip(speakers, turns, strict=True))
    ]
    return [segment.text for segment in redactor.redact_segments(segments, language=language).segments]


@pytest.mark.parametrize(
    ("language", "turns", "expected"),
    [
        # An American routing number (its check digit right) was a phone number, or nothing
        (
            "en",
            ("Can I have your routing number and account number?", "Sure, routing is 021000021."),
            "Sure, routing is [BANK_ACCOUNT].",
        ),
        ("en", ("What's the routing number?", "It's 0 2 1 0 0 0 0 2 1."), "It's [BANK_ACCOUNT]."),
        ("en", ("The ABA number of my bank is 021000021.",), "The ABA number of my bank is [BANK_ACCOUNT]."),
        # A British sort code, asked for or said
        ("en", ("And your sort code?", "It's 20-00-00."), "It's [BANK_ACCOUNT]."),
        (
            "en",
            ("Sort code 40 47 84 and the account number is 7 0 8 7 2 4 9 0.",),
            "Sort code [BANK_ACCOUNT] and the account number is [BANK_ACCOUNT].",
        ),
        # An IBAN whose country code Whisper wrote as two letters apart
        ("es", ("Mi IBAN es E S 91 2100 0418 4502 0005 1332.",), "Mi IBAN es [BANK_ACCOUNT]."),
        ("de", ("Können Sie mir Ihre IBAN sagen?", "D E 89 3704 0044 0532 0130 00."), "[BANK_ACCOUNT]."),
        # An account number as Spanish and French banks wrote it before the IBAN: the CCC, the RIB
        (
            "es",
            ("Mi número de cuenta es 0049 1500 05 1234567892.",),
            "Mi número de cuenta es [BANK_ACCOUNT].",
        ),
        ("es", ("¿Me da su número de cuenta?", "Sí, es 2100 0418 45 0200051332."), "Sí, es [BANK_ACCOUNT]."),
        (
            "es",
            (
                "Mi cuenta es cero cero cuatro nueve, uno cinco cero cero, cero cinco, "
                "uno dos tres cuatro cinco seis siete ocho nueve dos.",
            ),
            "Mi cuenta es [BANK_ACCOUNT].",
        ),
        # an IBAN whose check digits Whisper misheard: its body, the CCC, still checks out
        ("es", ("Mi IBAN es ES92 2100 0418 4502 0005 1332.",), "Mi IBAN es ES92 [BANK_ACCOUNT]."),
        ("fr", ("Mon RIB, c'est 30006 00001 12345678901 89.",), "Mon RIB, c'est [BANK_ACCOUNT]."),
        ("fr", ("Quel est votre numéro de compte ?", "30006 00001 12345678901 89."), "[BANK_ACCOUNT]."),
        # An account number Whisper misheard by a digit fails its check, but its words still name it
        (
            "es",
            ("Mi número de cuenta es 0049 1500 06 1234567892.",),
            "Mi número de cuenta es [BANK_ACCOUNT].",
        ),
        ("fr", ("Mon RIB, c'est 30006 00001 12345678901 88.",), "Mon RIB, c'est [BANK_ACCOUNT]."),
        ("de", ("Meine IBAN ist DE88 3704 0044 0532 0130 00.",), "Meine IBAN ist DE88 [BANK_ACCOUNT]."),
        # whisper-base's "0-0, 4-9-1-5-0-0-5-1-2-3-4-5 6, 7, 8, 9, 2" for the CCC above: a digit lost
        (
            "es",
            ("Mi número de cuenta es 0-0, 4-9-1-5-0-0-5-1-2-3-4-5 6, 7, 8, 9, 2",),
            "Mi número de cuenta es [BANK_ACCOUNT]",
        ),
        # An account number with no check, by its words: a German Kontonummer (six digits, no phone's length)
        # and Bankleitzahl, asked for or said; the French "numéro de compte" (a phone's length: it was one)
        (
            "de",
            ("Wie lautet Ihre Kontonummer?", "Meine Kontonummer ist 123456."),
            "Meine Kontonummer ist [BANK_ACCOUNT].",
        ),
        ("de", ("Und Ihre Bankleitzahl?", "Die ist 370 400 44."), "Die ist [BANK_ACCOUNT]."),
        (
            "de",
            ("Kontonummer 532013000 bei der Commerzbank, BLZ 37040044.",),
            "Kontonummer [BANK_ACCOUNT] bei der Commerzbank, BLZ [BANK_ACCOUNT].",
        ),
        (
            "de",
            ("Ich zahle per Lastschrift von meinem Girokonto 1234567890.",),
            "Ich zahle per Lastschrift von meinem Girokonto [BANK_ACCOUNT].",
        ),
        (
            "fr",
            ("Quel est votre numéro de compte ?", "Mon numéro de compte est 12345678901."),
            "Mon numéro de compte est [BANK_ACCOUNT].",
        ),
        ("en", ("My account number is 4155552671.",), "My account number is [BANK_ACCOUNT]."),
        # a card misheard on a bank's card is a card
        ("es", ("Mi tarjeta del banco es 4111 1111 1111 1112.",), "Mi tarjeta del banco es [CARD_NUMBER]."),
        ("de", ("Meine Bankkarte ist 4111 1111 1111 1112.",), "Meine Bankkarte ist [CARD_NUMBER]."),
        # A ZIP code after its state: no "zip" said
        (
            "en",
            ("I'm at 12 Oak Lane, Austin, Texas 78701.",),
            "I'm at [ADDRESS], Austin, Texas [ADDRESS].",
        ),
        ("en", ("Springfield, Illinois, 62704-1234.",), "Springfield, Illinois, [ADDRESS]."),
        ("en", ("Ship it to Portland, OR 97201.",), "Ship it to Portland, OR [ADDRESS]."),
        # A customer's number, asked for or said
        (
            "de",
            (
                "Können Sie mir Ihre Kundennummer nennen?",
                "Ja, die ist vier fünf sechs sieben acht neun eins zwei.",
            ),
            "Ja, die ist [NATIONAL_ID].",
        ),
        ("en", ("Can you give me your customer number?", "It's 88213456."), "It's [NATIONAL_ID]."),
        ("es", ("¿Me da su número de cliente?", "Sí, 88213456."), "Sí, [NATIONAL_ID]."),
        ("de", ("Meine Kundennummer ist 88213456.",), "Meine Kundennummer ist [NATIONAL_ID]."),
        # the service's own number stays a phone number
        (
            "de",
            ("Rufen Sie den Kundenservice unter 0800 1234567 an.",),
            "Rufen Sie den Kundenservice unter [PHONE_NUMBER] an.",
        ),
        # A driving licence's number
        ("en", ("My driver's license number is D1234567.",), "My driver's license number is [NATIONAL_ID]."),
        ("en", ("What's your licence number?", "It's D 1234567."), "It's [NATIONAL_ID]."),
        ("de", ("Meine Führerscheinnummer ist 12345678.",), "Meine Führerscheinnummer ist [NATIONAL_ID]."),
        (
            "es",
            ("El número de mi licencia de conducir es 12345678.",),
            "El número de mi licencia de conducir es [NATIONAL_ID].",
        ),
        # German and French id numbers: an identity card's or passport's, capitals among the digits, written
        # or read out; a health or pension insurance number, a tax number
        (
            "de",
            ("Die Nummer meines Personalausweises ist L01X00T47.",),
            "Die Nummer meines Personalausweises ist [NATIONAL_ID].",
        ),
        ("de", ("Meine Reisepassnummer ist C 01 X 00 T 47.",), "Meine Reisepassnummer ist [NATIONAL_ID]."),
        ("fr", ("Mon numéro de passeport est 12 AB 34567.",), "Mon numéro de passeport est [NATIONAL_ID]."),
        ("de", ("Meine Versichertennummer ist A123456789.",), "Meine Versichertennummer ist [NATIONAL_ID]."),
        (
            "de",
            ("Meine Sozialversicherungsnummer ist 65 170839 J 003.",),
            "Meine Sozialversicherungsnummer ist [NATIONAL_ID].",
        ),
        ("de", ("Meine Steuernummer ist 12/345/67890.",), "Meine Steuernummer ist [NATIONAL_ID]."),
        # an id's letters Whisper set apart from it (whisper-base on the German calls)
        ("de", ("Meine Ausweisnummer ist C, F4K9R7H2",), "Meine Ausweisnummer ist [NATIONAL_ID]"),
        (
            "de",
            ("meiner Sozialversicherungsnummer ist 560708913. J003.",),
            "meiner Sozialversicherungsnummer ist [NATIONAL_ID].",
        ),
        ("en", ("My member ID is W123456789, I think.",), "My member ID is [NATIONAL_ID], I think."),
        ("fr", ("Mon numéro fiscal est 1234567890123.",), "Mon numéro fiscal est [NATIONAL_ID]."),
        # A PIN, password or one-time code, up to eight digits; a PIN in a compound with a hyphen
        (
            "de",
            ("Meine Telefon-PIN lautet vier drei zwei eins.",),
            "Meine Telefon-PIN lautet [SECURITY_CODE].",
        ),
        ("de", ("Mein Kennwort ist 987654.",), "Mein Kennwort ist [SECURITY_CODE]."),
        ("fr", ("Mon code secret est quatre trois deux un.",), "Mon code secret est [SECURITY_CODE]."),
        ("es", ("Mi contraseña es 48291.",), "Mi contraseña es [SECURITY_CODE]."),
        ("en", ("My passcode is 555123.",), "My passcode is [SECURITY_CODE]."),
        ("en", ("What is your verification code?", "It's 482913."), "It's [SECURITY_CODE]."),
        (
            "es",
            ("El código de verificación es 482913.",),
            "El código de verificación es [SECURITY_CODE].",
        ),
    ],
)
def test_bank_details_zip_codes_and_licences_are_redacted_where_their_words_name_them(
    redactor: PresidioRedactor, language: str, turns: tuple[str, ...], expected: str
) -> None:
    assert redacted(redactor, language, *turns)[-1] == expected


@pytest.mark.parametrize(
    ("language", "turns"),
    [
        # nine digits whose check digit is a routing number's, not named as one
        ("en", ("My order number is 021000021.",)),
        ("en", ("Your reference is 021000021, keep it.",)),
        # six digits with "sort" but no sort code
        ("en", ("It was a sort of 250000 dollar problem.",)),
        ("en", ("I sorted 123456 parcels last year.",)),
        ("en", ("What sort of account do you have?", "It's 123456.")),
        # a state with no ZIP code after it
        ("en", ("We opened 12 offices in Texas in 2019.",)),
        ("en", ("The software license is valid for 12 months.",)),
        # a plan's name of capitals and digits, a code of capitals and digits, next to an id word
        ("de", ("Meine Versicherung hat den Tarif XL2024 erhöht.",)),
        ("en", ("I need a new ID card, my old one says ABC123 on it.",)),
        # "verification" said of an identity check, not of a code (the aws-pca call, whisper-base)
        ("en", ("2017 for attrition. Okay. And for verification, ma'am, do you know the purchase date?",)),
        # a reference or order named next to a PIN
        ("en", ("Your PIN reset reference is 48291734.",)),
        ("en", ("I changed my PIN on 12 March, order 48291734.",)),
        # a customer's word without "number"
        ("en", ("We have 250000 customers in 12 countries.",)),
        # a transfer's or a transaction's reference, next to "bank"
        ("de", ("Die Referenz der Banküberweisung ist 2024031512345678.",)),
        ("en", ("The bank transaction ID is 2024031512345678.",)),
        # an amount on the account
        ("de", ("Ich habe 150000 Euro auf dem Konto.",)),
        ("fr", ("J'ai 10000000000 euros sur mon compte.",)),
        # a CCC and a RIB with no account word
        ("es", ("El número de pedido es 0049 1500 05 1234567892.",)),
        ("fr", ("La référence est 30006 00001 12345678901 89.",)),
    ],
)
def test_numbers_not_named_as_bank_details_zip_codes_or_licences_stay(
    redactor: PresidioRedactor, language: str, turns: tuple[str, ...]
) -> None:
    assert redacted(redactor, language, *turns) == list(turns)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "My routing number is 021000021."),
        ("de", "Meine Kontonummer ist 532013000."),  # libphonenumber: a German phone number
        ("fr", "Le numéro de compte est le 12345678901."),
    ],
)
def test_a_number_named_as_a_bank_account_is_one_not_a_phone(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    spans = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language).spans
    assert [span.entity for span in spans] == ["BANK_ACCOUNT"]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # a phone word said before the account word: the account's phone
        ("en", "The phone number on the account is 415 555 2671."),
        ("de", "Meine Telefonnummer für das Konto ist 030 12345678."),
        ("fr", "Appelez-moi au sujet du compte au 01 23 45 67 89."),
    ],
)
def test_a_phone_number_said_of_an_account_stays_a_phone_number(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    spans = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language).spans
    assert [span.entity for span in spans] == ["PHONE_NUMBER"]
