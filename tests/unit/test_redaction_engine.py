"""The Presidio redactor on turns shaped like Whisper's output, in en/es/de/fr and a language it has no
recognizers for: each entity type, spoken digits, numbers split over turns, and what must stay."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from callsense import logs
from callsense.calls.schemas import Segment, Speaker, Word
from callsense.config.redaction import EntityType, RedactionSettings
from callsense.redaction.engine import PresidioRedactor
from callsense.redaction.other_language_words import other_language_words
from tests.unit.redaction_helpers import (
    ARABIC_INDIC,
    DEVANAGARI,
    PERSIAN,
    full_width,
    script_digits,
    whisper_turn,
)

AGENT, CUSTOMER = Speaker.agent, Speaker.customer


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor(RedactionSettings(custom_patterns={"POLICY_NUMBER": r"\bPOL-?\d{6}\b"}))


def test_a_debug_log_carries_no_value_found(
    redactor: PresidioRedactor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger that sets no level of its own writes DEBUG lines
    logs.configure(level="DEBUG", json_lines=False)
    said = "My name is Rose Miller, my card number is 4111 1111 1111 1111, rose.miller@gmail.com."
    redactor.redact_segments([whisper_turn(CUSTOMER, said)], language="en")
    redactor.redact_text("Rose Miller paid with 4111 1111 1111 1111.", language="en")
    logs.configure(level="INFO", json_lines=False)
    logged = [record.getMessage() for record in caplog.records]
    assert not [line for line in logged if "4111" in line or "Miller" in line or "miller" in line]


CASES = [
    ("en", "My card is four one one one, one one one one, one one one one, one one one one.", "CARD_NUMBER"),
    ("en", "It's 4111 1111 1111 1111.", "CARD_NUMBER"),
    ("en", "Sure, 41 11 11 11 11 11 11 11 is the card.", "CARD_NUMBER"),
    (
        "es",
        "Mi tarjeta es cuatro uno uno uno, eh, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
        "CARD_NUMBER",
    ),
    ("de", "Meine Karte ist 5555 5555 5555 4444.", "CARD_NUMBER"),
    ("fr", "Ma carte c'est quatre mille cent onze, onze onze, onze onze, onze onze.", "CARD_NUMBER"),
    ("en", "The expiry is twelve twenty six.", "CARD_EXPIRY"),
    ("en", "And the three digits on the back are seven three seven.", "SECURITY_CODE"),
    ("es", "El código de seguridad es cuatro cinco seis.", "SECURITY_CODE"),
    ("es", "La fecha de caducidad es doce veintiséis.", "CARD_EXPIRY"),
    ("de", "Die Karte ist gültig bis zwölf sechsundzwanzig.", "CARD_EXPIRY"),
    ("fr", "La date d'expiration est douze vingt-six.", "CARD_EXPIRY"),
    # The slash said, or "of"
    ("en", "It expires twelve slash twenty six.", "CARD_EXPIRY"),
    ("es", "Caduca el doce barra veintiséis.", "CARD_EXPIRY"),
    ("es", "La fecha de caducidad es doce del veintiséis.", "CARD_EXPIRY"),
    ("de", "Die Karte läuft ab zwölf Schrägstrich sechsundzwanzig.", "CARD_EXPIRY"),
    ("fr", "Elle expire douze sur vingt-six.", "CARD_EXPIRY"),
    ("de", "Die drei Ziffern auf der Rückseite sind sieben drei sieben.", "SECURITY_CODE"),
    ("fr", "Le cryptogramme au dos c'est sept trois sept.", "SECURITY_CODE"),
    ("es", "Mi IBAN es ES91 2100 0418 4502 0005 1332.", "BANK_ACCOUNT"),
    ("de", "Meine IBAN ist DE89 3704 0044 0532 0130 00.", "BANK_ACCOUNT"),
    ("fr", "Mon IBAN c'est FR14 2004 1010 0505 0001 3M02 606.", "BANK_ACCOUNT"),
    # Read out digit by digit: the country code apart from the digits
    (
        "es",
        "Mi IBAN es ES nueve uno, dos uno cero cero, cero cuatro uno ocho, cuatro cinco cero dos, "
        "cero cero cero cinco, uno tres tres dos.",
        "BANK_ACCOUNT",
    ),
    (
        "de",
        "Meine IBAN ist DE acht neun, drei sieben null vier, null null vier vier, null fünf drei zwei, "
        "null eins drei null, null null.",
        "BANK_ACCOUNT",
    ),
    ("en", "My IBAN is GB82 WEST 1234 5698 7654 32.", "BANK_ACCOUNT"),
    ("en", "My social security number is 536-90-4399.", "NATIONAL_ID"),
    ("en", "My National Insurance number is AB 12 34 56 C.", "NATIONAL_ID"),
    ("en", "My national insurance number is A B one two, three four, five six, C.", "NATIONAL_ID"),
    ("en", "My NHS number is nine four three, four seven six, five nine one nine.", "NATIONAL_ID"),
    ("en", "My postcode is SW1A 1AA.", "ADDRESS"),
    ("en", "My zip code is nine four one oh three.", "ADDRESS"),
    ("es", "Mi código postal es veintiocho cero trece.", "ADDRESS"),
    ("de", "Meine Postleitzahl ist eins null eins eins fünf.", "ADDRESS"),
    ("fr", "Mon code postal est soixante-quinze zéro zéro un.", "ADDRESS"),
    ("es", "Mi DNI es 12345678Z.", "NATIONAL_ID"),
    ("es", "Mi NIE es X1234567L.", "NATIONAL_ID"),
    ("es", "Mi NIE es X 1234567 L.", "NATIONAL_ID"),  # its letters apart, as Whisper writes them
    ("es", "Mi NIE es equis uno dos tres cuatro cinco seis siete ele.", "NATIONAL_ID"),  # letters by name
    ("es", "Mi DNI es uno dos tres cuatro cinco seis siete ocho, zeta.", "NATIONAL_ID"),
    ("de", "Meine Steuer-ID ist 86095742719.", "NATIONAL_ID"),
    ("fr", "Mon numéro de sécu est 1 85 05 78 006 084 91.", "NATIONAL_ID"),
    ("en", "You can call me on oh seven nine double oh, nine eight one, two three four.", "PHONE_NUMBER"),
    ("es", "Mi teléfono es seis uno dos, tres cuatro cinco, seis siete ocho.", "PHONE_NUMBER"),
    (
        "de",
        "Meine Nummer ist null eins sieben eins, äh, zwei drei vier fünf sechs sieben acht.",
        "PHONE_NUMBER",
    ),
    (
        "fr",
        "Mon numéro est zéro six, euh, douze trente-quatre cinquante-six soixante-dix-huit.",
        "PHONE_NUMBER",
    ),
    ("en", "Call me on plus four four, seven nine one one, one two three, four five six.", "PHONE_NUMBER"),
    (
        "de",
        "Unter plus neunundvierzig hundertsiebzig, äh, eins zwei drei vier fünf sechs sieben.",
        "PHONE_NUMBER",
    ),
    ("en", "My PIN is triple seven nine.", "SECURITY_CODE"),
    ("en", "It's john dot smith at example dot com.", "EMAIL"),
    ("es", "Es maria punto lopez arroba correo punto es.", "EMAIL"),
    ("de", "Das ist anna.mueller@beispiel.de, danke.", "EMAIL"),
    ("fr", "C'est marie point dupont arobase orange point fr.", "EMAIL"),
    ("es", "Mi correo es jose guion bajo garcia arroba hotmail punto es.", "EMAIL"),
    ("de", "Das ist klaus punkt wagner Klammeraffe gmail punkt com.", "EMAIL"),
    ("fr", "Écrivez à camille tiret bas petit arobase la poste point net.", "EMAIL"),
    ("en", "I was born on the 3rd of March 1985.", "DATE_OF_BIRTH"),
    ("de", "Ich bin am 3. März 1985 geboren.", "DATE_OF_BIRTH"),
    ("es", "Mi fecha de nacimiento es el tres de marzo de mil novecientos ochenta y cinco.", "DATE_OF_BIRTH"),
    ("fr", "Je suis né le 3 mars 1985.", "DATE_OF_BIRTH"),
    ("en", "I live at 221 Baker Street.", "ADDRESS"),
    ("es", "Vivo en la calle de Alcalá 45.", "ADDRESS"),
    ("de", "Ich wohne in der Hauptstraße 12.", "ADDRESS"),
    ("fr", "J'habite au 12 rue de la Paix.", "ADDRESS"),
    ("en", "My name is John Smith.", "NAME"),
    ("es", "Me llamo Carlos García.", "NAME"),
    ("en", "Sure. My last name is the Tilly.", "NAME"),  # whisper-base on a real call (aws-lca)
    ("es", "Mi apellido es Fernández.", "NAME"),
    ("de", "Mein Nachname ist Böhm.", "NAME"),
    ("fr", "Mon nom de famille est Moreau.", "NAME"),
    ("de", "Ich heiße Anna Müller.", "NAME"),
    ("fr", "Je m'appelle Marie Dupont.", "NAME"),
    ("en", "The policy is POL-123456.", "POLICY_NUMBER"),
    # Languages without recognizers: the language-independent types, with digits and addresses spoken.
    (
        "it",
        "La mia carta è quattro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
        "CARD_NUMBER",
    ),
    ("it", "Il mio numero è tre quattro sette, uno due tre, quattro cinque sei sette.", "PHONE_NUMBER"),
    ("it", "La mia email è mario punto rossi chiocciola gmail punto com.", "EMAIL"),
    ("pt", "O meu cartão é quatro um um um, um um um um, um um um um, um um um um.", "CARD_NUMBER"),
    ("pt", "Meu telefone é nove nove oito sete meia, cinco quatro três dois.", "PHONE_NUMBER"),
    ("pt", "Meu email é joao ponto silva arroba gmail ponto com.", "EMAIL"),
    ("ru", "Мой номер карты 4111 1111 1111 1111.", "CARD_NUMBER"),
    ("ru", "Моя почта ivan.petrov@mail.ru спасибо.", "EMAIL"),
    ("ru", "Моя почта ivan точка petrov собака mail точка ru спасибо.", "EMAIL"),  # "dog" is "@"
    ("he", "המייל שלי הוא dana נקודה levi שטרודל gmail נקודה com תודה", "EMAIL"),  # "strudel"
    ("ja", "メールは taro アットマーク example ドット jp です", "EMAIL"),
    ("ko", "이메일은 minsu 골뱅이 naver 닷 com 입니다", "EMAIL"),  # "snail"
    ("tr", "E-postam ahmet nokta yilmaz @ gmail nokta com", "EMAIL"),
    ("ar", "بريدي هو ahmad آت gmail دوت com", "EMAIL"),
    ("th", "อีเมลคือ somchai แอท gmail ดอท com ครับ", "EMAIL"),
    ("hi", "मेरा ईमेल rahul एट gmail डॉट com है", "EMAIL"),
    ("ar", "رقم بطاقتي 4111 1111 1111 1111", "CARD_NUMBER"),
    ("hi", "मेरा कार्ड नंबर 4111 1111 1111 1111 है", "CARD_NUMBER"),
    # Digits of the language's own script, as Whisper writes them now and then; a country code's "+".
    ("ar", f"رقم بطاقتي {script_digits('4111 1111 1111 1111', ARABIC_INDIC)}", "CARD_NUMBER"),
    ("fa", f"شماره کارت من {script_digits('4111 1111 1111 1111', PERSIAN)}", "CARD_NUMBER"),
    ("hi", f"मेरा कार्ड नंबर {script_digits('4111 1111 1111 1111', DEVANAGARI)} है", "CARD_NUMBER"),
    ("ru", "Мой телефон +7 912 345-67-89.", "PHONE_NUMBER"),
    # Names after "my name is" in the cased languages without recognizers of their own
    ("ru", "Здравствуйте, меня зовут Иван Петров.", "NAME"),
    ("tr", "Merhaba, benim ad\u0131m Ahmet Y\u0131lmaz.", "NAME"),
    ("ar", f"رقم جوالي {script_digits('+966 50 123 4567', ARABIC_INDIC)}", "PHONE_NUMBER"),
]


@pytest.mark.parametrize(("language", "text", "entity"), CASES)
def test_each_entity_type_is_found_on_its_words(
    redactor: PresidioRedactor, language: str, text: str, entity: str
) -> None:
    turn = whisper_turn(CUSTOMER, text, start=3.0)
    redaction = redactor.redact_segments([turn], language=language)
    assert [span.entity for span in redaction.spans] == [entity], redaction.segments[0].text
    span = redaction.spans[0]
    assert (span.segment, span.speaker) == (0, CUSTOMER)
    assert span.start == turn.words[span.first_word].start and span.end == turn.words[span.last_word].end
    redacted = redaction.segments[0]
    assert f"[{entity}]" in redacted.text
    assert redacted.words[span.first_word].text == f" [{entity}]"
    assert all(word.text == "" for word in redacted.words[span.first_word + 1 : span.last_word + 1])
    assert len(redacted.words) == len(turn.words)


@pytest.mark.parametrize(
    ("language", "said", "redacted"),
    [
        (
            "en",
            [(CUSTOMER, "My name is John Smith, that's S-M-I-T-H.")],
            ["My name is [NAME], that's [NAME]."],
        ),
        (
            "en",
            [
                (CUSTOMER, "My name is John Smith."),
                (AGENT, "Could you spell the surname?"),
                (CUSTOMER, "S M I T H."),
            ],
            ["My name is [NAME].", "Could you spell the surname?", "[NAME]."],
        ),
        (
            "en",
            [
                (AGENT, "Could you spell your last name for me?"),
                (CUSTOMER, "Sure, it's K-O-W-A-L-S-K-I."),
                (AGENT, "Thank you, Mr Kowalski."),
            ],
            ["Could you spell your last name for me?", "Sure, it's [NAME].", "Thank you, Mr [NAME]."],
        ),
        (
            "es",
            [(AGENT, "¿Me deletrea su apellido?"), (CUSTOMER, "G-A-R-C-I-A.")],
            ["¿Me deletrea su apellido?", "[NAME]."],
        ),
        ("de", [(CUSTOMER, "Ich heiße Anna Müller, M-Ü-L-L-E-R.")], ["Ich heiße [NAME], [NAME]."]),
        (
            "fr",
            [(AGENT, "Vous pouvez épeler votre nom ?"), (CUSTOMER, "D-U-P-O-N-T.")],
            ["Vous pouvez épeler votre nom ?", "[NAME]."],
        ),
        (  # the aws-pca call, as whisper-base heard it: neither the next turn's "My" nor "I've" is the name
            "en",
            [
                (CUSTOMER, "Yes, my name is Violet"),
                (CUSTOMER, "My last name is King K-I-N-G."),
                (CUSTOMER, "I've got the car last season."),
                (AGENT, "From what I've heard, that is fine."),
            ],
            [
                "Yes, my name is [NAME]",
                "My last name is [NAME].",
                "I've got the car last season.",
                "From what I've heard, that is fine.",
            ],
        ),
        # in lower case, as Whisper writes letters now and then: where spelling was asked for
        (
            "en",
            [(AGENT, "Can you spell your last name?"), (CUSTOMER, "s, m, i, t, h.")],
            ["Can you spell your last name?", "[NAME]."],
        ),
        (
            "de",
            [(AGENT, "Können Sie das buchstabieren?"), (CUSTOMER, "M-ü-l-l-e-r.")],
            ["Können Sie das buchstabieren?", "[NAME]."],
        ),
        (  # "name" said, but no spelling: letters in lower case are none
            "en",
            [(CUSTOMER, "My name is on the list, it's under a, b, c, d in the folder.")],
            ["My name is on the list, it's under a, b, c, d in the folder."],
        ),
        # letters with no name asked for or said: a reference, a keyword
        ("en", [(CUSTOMER, "The order says A-B-C-1-2-3.")], ["The order says A-B-C-1-2-3."]),
        ("en", [(CUSTOMER, "Text S T O P to end the messages.")], ["Text S T O P to end the messages."]),
    ],
)
def test_a_name_spelled_out_is_redacted_and_wherever_it_recurs(
    redactor: PresidioRedactor, language: str, said: list[tuple[Speaker, str]], redacted: list[str]
) -> None:
    turns = [whisper_turn(speaker, text, start=4.0 * i) for i, (speaker, text) in enumerate(said)]
    redaction = redactor.redact_segments(turns, language=language)
    assert [segment.text for segment in redaction.segments] == redacted


@pytest.mark.parametrize(
    ("language", "said", "redacted"),
    [
        (
            "en",
            [(AGENT, "Can you spell your last name?"), (CUSTOMER, "S as in Sam, M as in Mary, I, T, H.")],
            ["Can you spell your last name?", "[NAME]."],
        ),
        # two letters said with words are a spelling with nothing asked, in lower case too
        ("en", [(CUSTOMER, "Yes, s as in sam, m as in mary, i, t, h.")], ["Yes, [NAME]."]),
        ("en", [(CUSTOMER, "Sierra Mike India Tango Hotel.")], ["[NAME]."]),
        (  # whisper-base on the bench's Piper voice: "S as in Sam" and "M as in" misheard
            "en",
            [
                (AGENT, "Could you spell your last name for me?"),
                (CUSTOMER, "Sure, assistant San, Emma's in Mary, I as an India, T as in Tom, H as in Henry."),
            ],
            ["Could you spell your last name for me?", "Sure, assistant San, [NAME] in [NAME], [NAME]."],
        ),
        (  # a name said whole, then spelled with the alphabet's words: both
            "en",
            [
                (CUSTOMER, "My name is Anna Kowalski."),
                (CUSTOMER, "Kilo Oscar Whiskey Alpha Lima Sierra Kilo India."),
            ],
            ["My name is [NAME].", "[NAME]."],
        ),
        (
            "es",
            [
                (AGENT, "¿Me deletrea su apellido?"),
                (CUSTOMER, "G de Granada, A de Antonio, R de Roma, C, I, A."),
            ],
            ["¿Me deletrea su apellido?", "[NAME]."],
        ),
        (
            "de",
            [(CUSTOMER, "Müller, M wie Martha, Ü wie Übermut, L wie Ludwig, L, E, R.")],
            ["[NAME], [NAME]."],
        ),
        (
            "fr",
            [
                (AGENT, "Vous pouvez épeler votre nom ?"),
                (CUSTOMER, "D comme Denise, U comme Ursule, P, O, N, T."),
            ],
            ["Vous pouvez épeler votre nom ?", "[NAME]."],
        ),
        # the words of a spelling said for something else
        ("en", [(CUSTOMER, "Plan A for Europe, plan B for Asia.")], ["Plan A for Europe, plan B for Asia."]),
        ("en", [(CUSTOMER, "We stayed at Hotel Lima in Peru.")], ["We stayed at Hotel Lima in Peru."]),
        ("fr", [(CUSTOMER, "Il a comme objectif de partir.")], ["Il a comme objectif de partir."]),
    ],
)
def test_a_name_spelled_with_a_word_for_each_letter_is_redacted(
    redactor: PresidioRedactor, language: str, said: list[tuple[Speaker, str]], redacted: list[str]
) -> None:
    turns = [whisper_turn(speaker, text, start=4.0 * i) for i, (speaker, text) in enumerate(said)]
    redaction = redactor.redact_segments(turns, language=language)
    assert [segment.text for segment in redaction.segments] == redacted


@pytest.mark.parametrize(
    ("language", "said", "redacted"),
    [
        ("de", "Ich wohne in 10115 Berlin.", "Ich wohne in [ADDRESS]."),
        ("de", "Hauptstraße 5, 10115 Berlin.", "[ADDRESS]."),
        ("es", "Vivo en la calle Mayor 5, 28013 Madrid.", "Vivo en la [ADDRESS]."),
        ("fr", "J'habite au 12 rue de la Paix 75002 Paris, merci.", "J'habite au [ADDRESS], merci."),
        ("fr", "Mon code postal, c'est 75001 Paris.", "Mon code postal, c'est [ADDRESS]."),
        # four digits (Switzerland, Austria, Belgium; or a code Whisper heard a digit short, as whisper-base
        # wrote Kokoro's "veintiocho cero trece"), by a postal code's own words
        ("de", "Meine Postleitzahl ist 8001 Zürich.", "Meine Postleitzahl ist [ADDRESS]."),
        ("es", "Mi código postal es 28.03.", "Mi código postal es [ADDRESS]."),
        ("fr", "Mon code postal est 2000 Neuchâtel.", "Mon code postal est [ADDRESS]."),
        ("en", "My zip code is 6061.", "My zip code is [ADDRESS]."),
        # the flat or floor with the street (its ordinal as the views write it)
        ("de", "Goethestraße 14, dritter Stock, in Köln.", "[ADDRESS], in Köln."),
        (
            "de",
            "Ich wohne in der Hauptstraße 5, Hinterhaus, 2. Etage, 10115 Berlin.",
            "Ich wohne in der [ADDRESS].",
        ),
        (
            "es",
            "Mi dirección es Avenida de la Constitución número 5, piso 2, puerta B.",
            "Mi dirección es [ADDRESS].",
        ),
        ("es", "Calle Alcalá 45, tercero B.", "[ADDRESS]."),
        ("es", "Vivo en la calle Mayor 10, bajo, 28013 Madrid.", "Vivo en la [ADDRESS]."),
        ("fr", "J'habite au 12 rue de la Paix, troisième étage, porte gauche.", "J'habite au [ADDRESS]."),
        ("fr", "C'est 3 bis avenue Jean Jaurès, bâtiment C, à Lyon.", "C'est [ADDRESS], à Lyon."),
        ("en", "I live at 12 Oak Street, apartment four B.", "I live at [ADDRESS]."),
        ("en", "My address is 350 Fifth Avenue, suite 200.", "My address is [ADDRESS]."),
        ("en", "It's 12 Oak Street, third floor.", "It's [ADDRESS]."),
        # a German street with no street word, by an address word
        (
            "de",
            "Meine neue Adresse ist Am Lindenhof 12a, 80331 München.",
            "Meine neue Adresse ist [ADDRESS].",
        ),
        ("de", "Ich wohne Im Winkel 7.", "Ich wohne [ADDRESS]."),
        # the street word after a word of the name: all of it ("Berliner" was left)
        ("de", "Ich wohne in der Berliner Straße 12.", "Ich wohne in der [ADDRESS]."),
    ],
)
def test_an_address_is_redacted_with_its_flat_and_postal_code(
    redactor: PresidioRedactor, language: str, said: str, redacted: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, said)], language=language)
    assert redaction.segments[0].text == redacted


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Your order 12345 ships tomorrow."),
        ("es", "El pedido 28013 llega mañana a Madrid."),
        ("de", "Ich habe 10000 Kunden und 12345 Punkte."),
        ("fr", "Le colis 75002 est parti."),
        # four digits that could be a year, without a town after them
        ("en", "The postal strike in 2023 delayed it."),
        ("en", "I have lived at this address since 1998."),
        # "Am", "Im" said of a time, next to an address word
        ("de", "Meine Adresse? Am Montag 15 habe ich Zeit."),
        ("de", "Ich wohne seit Jahren hier. Im Winkel 3 Mal gestolpert."),
        # a street word alone after an article (FLEURS German: "nachdem der damm 1963 erbaut worden war")
        ("de", "Nachdem der Damm 1963 erbaut worden war, wohnte ich dort."),
        ("de", "Der Damm 1963 wurde erbaut, ich wohne dort."),
    ],
)
def test_digits_without_an_address_word_are_no_postal_code(
    redactor: PresidioRedactor, language: str, said: str
) -> None:
    assert redactor.redact_segments([whisper_turn(CUSTOMER, said)], language=language).spans == []


@pytest.mark.parametrize(
    ("language", "said", "redacted"),
    [
        # a short context word inside another word: "pin" in "shipping", "id" in "paid", "cell" in "excellent"
        ("en", "The shipping was 120 and it took 5 days.", None),
        ("en", "I spent 250 on shopping, in my opinion 300 is too much.", None),
        ("en", "Invoice 2023-11-045 was paid.", None),
        ("en", "Excellent, 415555267 was the old line.", None),
        ("fr", "Votre dossier 4521 est ouvert.", None),
        # a refund's "back", and "for" before a quantity ("445 minutes" with "back" was a security code)
        ("en", "I want my 250 back.", None),
        ("en", "I was on hold for 45 minutes, back in 2019.", None),
        # the words themselves, and the longer ones inside a word, still count
        ("en", "My PIN is 4321.", "My PIN is [SECURITY_CODE]."),
        ("en", "My cell is 415 555 267.", "My cell is [PHONE_NUMBER]."),
        ("de", "Meine Kreditkarte ist 4012 8888 8888 1882.", "Meine Kreditkarte ist [CARD_NUMBER]."),
        ("de", "Die Steuer-ID ist 12 345 678 903.", "Die Steuer-ID ist [NATIONAL_ID]."),
        ("fr", "Le cryptogramme au dos, c'est 852.", "Le cryptogramme au dos, c'est [SECURITY_CODE]."),
        # "code" and "back" name a card's code only together or with a card word
        ("es", "El código de error es 404.", None),
        ("es", "Mi código de cliente es 5821.", None),
        ("es", "El importe de detrás de la factura es 150.", None),
        ("de", "Auf der Rückseite der Rechnung steht 150.", None),
        ("fr", "Au dos de la facture, il y a 150.", None),
        ("en", "Error code 404 again, and the discount code 2024.", None),
        ("es", "El código de la tarjeta es 456.", "El código de la tarjeta es [SECURITY_CODE]."),
        ("es", "La clave de la tarjeta es 1234.", "La clave de la tarjeta es [SECURITY_CODE]."),
        ("de", "Der Code auf der Rückseite ist 456.", "Der Code auf der Rückseite ist [SECURITY_CODE]."),
        ("fr", "Le code au dos de la carte est 456.", "Le code au dos de la carte est [SECURITY_CODE]."),
        # a back word said of something else: with a code word, no card's code
        ("en", "Enter the code 1234 on the back of the box.", None),
        ("en", "The back door code is 4321.", None),
        ("es", "El código de detrás de la caja es 4567.", None),
        ("fr", "Le code au dos de la boîte, c'est 4567.", None),
        ("de", "Der Code auf der Rückseite der Verpackung ist 4567.", None),
        ("en", "The code on the back of it is 456.", "The code on the back of it is [SECURITY_CODE]."),
        ("en", "The code on the back is 456.", "The code on the back is [SECURITY_CODE]."),
        (
            "en",
            "The numbers on the back of my card: 456.",
            "The numbers on the back of my card: [SECURITY_CODE].",
        ),
        ("es", "Pagué con tarjeta. Ahora me sale el código de error 404.", None),
        # the full stop after a number ends its sentence where a word follows: the card's last four and an
        # error code are no card's code
        ("es", "Tarjeta terminada en 4111. El código de error es 404.", None),
        ("en", "My card ends in 4242. The error code is 404.", None),
        # the "security" of social security names no card's code
        ("en", "My social security check of 1400 didn't come.", None),
        (
            "en",
            "My social security number is fine, the security code is 123.",
            "My social security number is fine, the security code is [SECURITY_CODE].",
        ),
        ("en", "The security code. It is 456.", "The security code. It is [SECURITY_CODE]."),
        # a question and its answer in one turn, as diarization leaves them now and then on a mono call
        (
            "en",
            "What's the code on the back of the card? 456.",
            "What's the code on the back of the card? [SECURITY_CODE].",
        ),
        (
            "en",
            "Can I get the last four of your social? It's 6789.",
            "Can I get the last four of your social? It's [NATIONAL_ID].",
        ),
        # an SSN's last four by "social" and "last"/"ends"; a date of birth's year in two digits; an expiry's
        # month by its name (a day of a month is no expiry)
        ("en", "My social ends in 4321.", "My social ends in [NATIONAL_ID]."),
        ("en", "I saw your post on social media in 2024.", None),
        ("en", "I was born on 3/15/85.", "I was born on [DATE_OF_BIRTH]."),
        ("de", "Ich bin am 3.3.1985 geboren.", "Ich bin am [DATE_OF_BIRTH] geboren."),
        ("de", "Geburtsdatum 03.03.85.", "Geburtsdatum [DATE_OF_BIRTH]."),
        ("de", "Am 12.05.2024 habe ich 3 Pakete bestellt.", None),
        ("de", "Die Rechnung über 1.250 Euro kam am 3.3.2024.", None),  # libphonenumber's German number
        ("de", "Meine Nummer ist 030/1234567.", "Meine Nummer ist [PHONE_NUMBER]."),
        ("en", "The card expires in September 2027.", "The card expires in [CARD_EXPIRY]."),
        ("en", "The offer is valid until March 25.", None),
        ("en", "The card expires December 26.", None),  # a day, in English
        # a birthday, its year left out
        ("en", "My birthday is March 3rd.", "My birthday is [DATE_OF_BIRTH]."),
        ("de", "Ich bin am 3. März geboren.", "Ich bin am [DATE_OF_BIRTH] geboren."),
        ("es", "Nací el tres de marzo.", "Nací el [DATE_OF_BIRTH]."),
        ("fr", "Je suis né le 3 mars.", "Je suis né le [DATE_OF_BIRTH]."),
        ("en", "I ordered it on the 3rd of March.", None),
        # where the day goes before the month, the number after a month's name is a year
        ("de", "Die Karte läuft im Dezember sechsundzwanzig ab.", "Die Karte läuft im [CARD_EXPIRY] ab."),
        ("es", "La tarjeta caduca en diciembre del veintiséis.", "La tarjeta caduca en [CARD_EXPIRY]."),
        ("fr", "La carte expire en décembre vingt-six.", "La carte expire en [CARD_EXPIRY]."),
        ("de", "Mein Vertrag läuft bis zum 26. Dezember.", None),
        # libphonenumber takes each of these for a valid phone number of the language's country
        ("en", "Order ID: 3348917502", "Order ID: 3348917502"),  # ABCD's chats
        ("en", "My order number is three three four, eight nine one, seven five oh two.", None),
        ("en", "The tracking number is 1Z 999 AA1 0123 4567 84.", None),
        ("es", "El número de pedido es 612 345 678.", None),
        ("de", "Die Bestellnummer ist 0301 234 5678.", None),
        ("fr", "Le numéro de commande est 06 12 34 56 78.", None),
        # a phone word between: a phone number
        ("en", "For the order, call me on 415 555 2671.", "For the order, call me on [PHONE_NUMBER]."),
        (
            "en",
            "My order number is 334 891 7502, and my phone is 415 555 2671.",
            "My order number is 334 891 7502, and my phone is [PHONE_NUMBER].",
        ),
        ("en", "I ordered it. 415 555 2671 is my number.", "I ordered it. [PHONE_NUMBER] is my number."),
        # a card Whisper heard with a group three times for two ("five five five five, five five five five…"):
        # twenty digits that fail Luhn, no "card" said; a long number without a card inside stays
        ("en", "It's 55555555555555554444 and a mom.", "It's [CARD_NUMBER] and a mom."),
        ("en", "Reference 55556666777788889999, and 45671234123412345678.", None),
        # or with a digit said over and over written a few times too many: two fives, two ones too many
        ("en", "It's 555555555555554444 and a mom.", "It's [CARD_NUMBER] and a mom."),
        ("es", "Mitadjeta es 4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1.", "Mitadjeta es [CARD_NUMBER]."),
        # a reference padded with zeros: sixteen digits less four zeros pass Luhn, but zeros are left alone
        ("en", "Reference 300000000000000012.", None),
        # the number after its area code, named by the area code's word
        ("de", "Die Vorwahl ist 030 und dann 12345678.", "Die Vorwahl ist 030 und dann [PHONE_NUMBER]."),
        # a number no phone plan has (the UK's drama range), named by "reach me", "text me", "me joindre"
        (
            "en",
            "You can reach me at plus forty-four seven seven zero zero nine zero zero one two three.",
            "You can reach me at [PHONE_NUMBER].",
        ),
        ("en", "Text me at 1 5 5 5 1 2 3 4 5 6.", "Text me at [PHONE_NUMBER]."),
        ("fr", "Vous pouvez me joindre au 00 12 34 56 78.", "Vous pouvez me joindre au [PHONE_NUMBER]."),
        # a numbered street, and a British date of birth ("the third of the eleventh")
        ("en", "I live at 12 East 42nd Street.", "I live at [ADDRESS]."),
        ("en", "It's 350 Fifth Avenue, New York.", "It's [ADDRESS], New York."),
        ("en", "I was born on the 3rd of the 11th, 1985.", "I was born on the [DATE_OF_BIRTH]."),
        ("en", "We met on the 1st of the 2nd 2020 at the bank.", None),
        # a postal code read out after a French street, with its town; a number after "rue" that is none
        ("fr", "Douze rue de la Paix, soixante-quinze zéro zéro deux Paris.", "[ADDRESS], [ADDRESS]."),
        ("fr", "Dans la rue, 10000 personnes ont manifesté.", None),
        # a Spanish street with the commas Whisper writes where the caller paused; a street's word in a
        # sentence that names none
        ("es", "Vivo en la calle, Mayor, quince.", "Vivo en la [ADDRESS]."),
        ("es", "En la calle con 2 amigos esperé 20 minutos.", None),
        ("es", "En la calle Mayor hay 3 tiendas de la compañía.", None),
        ("es", "La calle, la verdad, tiene 3 farolas.", None),
        # not a phone number's check: still a card
        ("en", "My card for the order is 4111 1111 1111 1111.", "My card for the order is [CARD_NUMBER]."),
        # an id number of no known form, by its words
        ("en", "My passport number is 502 134 987.", "My passport number is [NATIONAL_ID]."),
        ("es", "Mi número de pasaporte es 502134987.", "Mi número de pasaporte es [NATIONAL_ID]."),
        ("de", "Meine Ausweisnummer ist 5021 3498 7.", "Meine Ausweisnummer ist [NATIONAL_ID]."),
        ("fr", "Mon numéro de passeport est 502134987.", "Mon numéro de passeport est [NATIONAL_ID]."),
        # "identify" names no id, nor does an order's "ID"
        ("en", "Please identify the 250000 dollar charge.", None),
        ("en", "The order ID is 884213.", None),
        ("en", "The transaction ID is TX12345678.", None),
        ("en", "My member ID is W123456789.", "My member ID is [NATIONAL_ID]."),
        # an American account number read out to pay by bank: 8 to 17 digits, no check to tell it
        ("en", "The account number is 1234567890123.", "The account number is [BANK_ACCOUNT]."),
        ("en", "My checking account is 0001 2345 6789.", "My checking account is [BANK_ACCOUNT]."),
        ("en", "Your order 1234567890123 ships today.", None),
    ],
)
def test_the_words_around_a_number_decide_what_it_is(
    redactor: PresidioRedactor, language: str, said: str, redacted: str | None
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, said)], language=language)
    assert redaction.segments[0].text == (redacted or said)


@pytest.mark.parametrize(
    ("asked", "redacted"),
    [
        ("additional to this you would give me the order ID and email", "7916676427"),  # ABCD's chat
        ("And the booking reference?", "7916676427"),
        ("And your phone number?", "[PHONE_NUMBER]"),
        ("Your phone number and the order number, please?", "[PHONE_NUMBER]"),
    ],
)
def test_a_number_given_for_an_order_in_answer_is_no_phone_number(
    redactor: PresidioRedactor, asked: str, redacted: str
) -> None:
    turns = [whisper_turn(AGENT, asked), whisper_turn(AGENT, "please", start=3.0)]
    turns.append(whisper_turn(CUSTOMER, "7916676427", start=5.0))
    assert redactor.redact_segments(turns, language="en").segments[2].text == redacted


@pytest.mark.parametrize(
    ("language", "text", "name"),
    [
        ("en", "Thanks, I will pass it on to Robert Jones tomorrow.", "Jones"),
        ("fr", "Je transmets à Julien Dupont.", "Dupont"),
    ],
)
def test_a_name_without_a_cue_is_found_by_the_ner_model(
    redactor: PresidioRedactor, language: str, text: str, name: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(AGENT, text)], language=language)
    assert "NAME" in [span.entity for span in redaction.spans]
    assert name not in redaction.segments[0].text


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # The NER models took each of these for a person ("[NAME] and thank you for calling").
        ("en", "Goodnight and thank you for calling."),
        ("en", "Howdy. Okay, Visa."),
        ("en", "I paid with Mastercard."),
        ("en", "I have the Gold plan, and the Unlimited plan."),
        ("fr", "Bonne nuit."),
        ("fr", "Bonne soirée. Bonne journée."),
        ("fr", "Je paie avec Visa."),
        # A translation keeps the caller's greeting now and then, and is redacted as English.
        ("en", "Buenas noches."),
        ("en", "Guten Abend."),
        ("es", "Buenas noches, muchas gracias, adiós."),
        ("es", "Vale, perfecto, hasta luego."),
        ("de", "Gute Nacht, vielen Dank, auf Wiederhören."),
        ("de", "Alles klar, schönen Tag noch."),
        ("fr", "Merci, au revoir."),
        ("en", "My last name is the same as my wife's."),
        # a department's greeting
        ("fr", "Service Client à votre écoute."),
        ("es", "Atención al Cliente al habla."),
        ("de", "Kundenservice am Apparat, was kann ich für Sie tun?"),
        ("en", "Customer Care speaking."),
        # a business named after a person, or a word taken for one (whisper-base on the aws-pca and
        # SpokenWOZ calls)
        ("en", "Thank you for calling big Jim's auto."),
        ("en", "Hello, it's Epcotum's service."),
        # how a caller asks to be reached
        ("en", "Email me the invoice please."),
        # an acronym, a word with a digit, a currency (banking77's customers, ABCD's system lines)
        ("en", "Where is the closest Mastercard ATM?"),
        ("en", "My exchange went wrong. I swapped Russian Ruble for UK pounds."),
        ("en", "FAQ answer related to timing (question4) was selected."),
        # German capitalises the formal "you": no name after "sprechen mit"
        ("de", "Ich spreche mit Ihnen über die Rechnung."),
        ("de", "Sie sprechen mit Ihrer Bank."),
    ],
)
def test_greetings_closings_brands_and_plans_are_no_names(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    turn = whisper_turn(CUSTOMER, text)
    redaction = redactor.redact_segments([turn], language=language)
    assert redaction.spans == [] and redaction.segments == [turn]
    assert redactor.redact_text(text, language=language) == text


@pytest.mark.parametrize(
    ("language", "text", "redacted"),
    [
        ("en", "Goodnight, Maria.", "Goodnight, [NAME]."),
        ("en", "Goodnight Maria.", "Goodnight [NAME]."),  # one person to the NER model
        ("en", "Thanks Maria, goodnight.", "Thanks [NAME], goodnight."),
        ("en", "Good morning, this is Anna Smith.", "Good morning, this is [NAME]."),
        ("es", "Buenas noches, soy Carmen Ruiz.", "Buenas noches, soy [NAME]."),
        ("de", "Guten Abend, hier ist Klaus Becker.", "Guten Abend, hier ist [NAME]."),
        # an agent's greeting, in the languages without an NER model
        (
            "es",
            "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?",
            "Buenos días, le atiende [NAME], ¿en qué puedo ayudarle?",
        ),
        ("de", "Guten Tag, Sie sprechen mit Petra Schmidt.", "Guten Tag, Sie sprechen mit [NAME]."),
        (
            "de",
            "Hier spricht Thomas Müller, ich habe eine Frage.",
            "Hier spricht [NAME], ich habe eine Frage.",
        ),
        # an agent's greeting with the name before its cue
        ("fr", "Bonjour, Julie à votre écoute.", "Bonjour, [NAME] à votre écoute."),
        ("fr", "Service Clients, Marie Laurent à votre service.", "Service Clients, [NAME] à votre service."),
        (
            "es",
            "Buenos días, Laura al habla, ¿en qué puedo ayudarle?",
            "Buenos días, [NAME] al habla, ¿en qué puedo ayudarle?",
        ),
        ("de", "Guten Tag, Petra Schmidt am Apparat.", "Guten Tag, [NAME] am Apparat."),
        ("fr", "Bonjour, Dupont à l'appareil.", "Bonjour, [NAME] à l'appareil."),
        ("en", "Acme, Julie speaking, how can I help?", "Acme, [NAME] speaking, how can I help?"),
        ("fr", "Bonne nuit, Marie.", "Bonne nuit, [NAME]."),
        ("fr", "Merci Julien, bonne journée.", "Merci [NAME], bonne journée."),
        ("en", "谢谢 Maria Smith.", "谢谢 [NAME]."),  # a Chinese word beside a name is left out of it
        ("en", "我要退款 Robert Jones 谢谢", "我要退款 [NAME] 谢谢"),
    ],
)
def test_a_name_next_to_a_greeting_is_still_redacted_and_the_greeting_kept(
    redactor: PresidioRedactor, language: str, text: str, redacted: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language)
    assert redaction.segments[0].text == redacted
    assert [span.entity for span in redaction.spans] == ["NAME"]


def test_a_number_split_over_two_turns_is_redacted_in_both(redactor: PresidioRedactor) -> None:
    turns = [
        whisper_turn(CUSTOMER, "It's four one one one, one one one one,", 0.0),
        whisper_turn(AGENT, "Mm-hmm.", 4.0),
        whisper_turn(CUSTOMER, "uh, one one one one, one one one one.", 5.0),
    ]
    redaction = redactor.redact_segments(turns, language="en")
    assert [(s.segment, s.entity) for s in redaction.spans] == [(0, "CARD_NUMBER"), (2, "CARD_NUMBER")]
    assert redaction.segments[1] is turns[1]
    assert redaction.segments[0].text == "It's [CARD_NUMBER],"
    assert "one" not in redaction.segments[2].text


def test_a_correction_halfway_still_redacts_the_card(redactor: PresidioRedactor) -> None:
    text = "It's 4111 1111, sorry, 4111 1111 1111 1111."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="en")
    assert "4111 1111 1111 1111" not in redaction.segments[0].text
    assert "CARD_NUMBER" in [span.entity for span in redaction.spans]


def test_a_number_failing_luhn_is_not_a_card(redactor: PresidioRedactor) -> None:
    text = "The reference is 4111 1111 1111 1112."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="en")
    assert "CARD_NUMBER" not in [span.entity for span in redaction.spans]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # The standard example IBANs with their check digits one off (the Spanish one its last digit: with
        # its check digits off only, its body is still a valid CCC, test_redaction_bank_details), with no
        # account word near: next to "IBAN" a number of an account's length is redacted all the same, as
        # Whisper may have misheard a digit (test_redaction_bank_details).
        ("es", "La referencia es ES91 2100 0418 4502 0005 1333."),
        ("de", "Die Referenz ist DE88 3704 0044 0532 0130 00."),
        ("fr", "La référence est FR15 2004 1010 0505 0001 3M02 606."),
        ("en", "The reference is GB82 WEST 1234 5698 7654 33."),
        # Read out digit by digit, its check digits one off ("nueve dos" for "nueve uno").
        (
            "es",
            "La referencia es ES nueve dos, dos uno cero cero, cero cuatro uno ocho, cuatro cinco cero dos, "
            "cero cero cero cinco, uno tres tres dos.",
        ),
    ],
)
def test_an_iban_failing_its_check_digits_is_not_a_bank_account(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language)
    assert "BANK_ACCOUNT" not in [span.entity for span in redaction.spans]


def test_a_month_of_a_year_said_without_an_expiry_word_stays(redactor: PresidioRedactor) -> None:
    redaction = redactor.redact_segments(
        [whisper_turn(CUSTOMER, "Tengo doce de veintiséis años.")], language="es"
    )
    assert redaction.spans == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Mon IBAN c'est FR15 2004 1010 0505 0001 3M02 606.", []),  # a code with digits after "c'est"
        ("Mon IBAN c'est FR quatorze, deux zéro zéro quatre.", []),  # a country code
        ("Bonjour, c'est Marie Dupont.", ["Marie Dupont"]),
        ("Je m'appelle Seán O'Brien.", ["Seán O'Brien"]),
    ],
)
def test_a_name_after_its_cue_is_a_word_of_letters(
    redactor: PresidioRedactor, text: str, names: list[str]
) -> None:
    turn = whisper_turn(CUSTOMER, text)
    redaction = redactor.redact_segments([turn], language="fr")
    found = [span for span in redaction.spans if span.entity == "NAME"]
    words = turn.words or []
    said = [" ".join(w.text.strip(" .,") for w in words[s.first_word : s.last_word + 1]) for s in found]
    assert said == names, redaction.segments[0].text


def test_an_id_number_read_out_in_groups_between_the_agents_prompts_is_redacted_whole(
    redactor: PresidioRedactor,
) -> None:
    # whisper-base on a SpokenWOZ call (real speech): the caller reads "1734 1256 7299 1778"
    said = [
        (CUSTOMER, "Sure, my ID number is 1734."),
        (AGENT, "please go ahead"),
        (CUSTOMER, "One, two. 5, 6, and"),
        (AGENT, "Okay, please go on."),
        (CUSTOMER, "7, 2, double 9."),
        (AGENT, "I've written down please go ahead"),
        (CUSTOMER, "Less 1, 1, double 7, 8."),
        (AGENT, "Okay, have written down your ID number."),
    ]
    turns = [whisper_turn(speaker, text, start=4.0 * i) for i, (speaker, text) in enumerate(said)]
    shown = [segment.text for segment in redactor.redact_segments(turns, language="en").segments]
    assert shown[0] == "Sure, my ID number is [NATIONAL_ID]."
    assert [shown[i] for i in (2, 4, 6)] == ["[NATIONAL_ID]", "[NATIONAL_ID].", "[NATIONAL_ID]."]
    assert [shown[i] for i in (1, 3, 5, 7)] == [said[i][1] for i in (1, 3, 5, 7)]


def test_a_french_social_security_number_with_a_wrong_key_is_a_national_id_only_by_its_words(
    redactor: PresidioRedactor,
) -> None:
    valid, wrong_key = "1 85 05 78 006 084 91", "1 85 05 78 006 084 92"  # 97 - 1850578006084 % 97 = 91

    def entities(said: str) -> list[str]:
        return [
            span.entity
            for span in redactor.redact_segments([whisper_turn(CUSTOMER, said)], language="fr").spans
        ]

    assert entities(f"Le numéro {valid}.") == ["NATIONAL_ID"]
    assert entities(f"Le numéro {wrong_key}.") == []
    # a digit misheard: still the caller's number, by "sécu" (as a card by "carte")
    assert entities(f"Mon numéro de sécu est {wrong_key}.") == ["NATIONAL_ID"]


@pytest.mark.parametrize(
    ("said", "letters"),
    [
        ("equis, uno dos tres cuatro cinco seis siete, ele", ("equis", "ele")),
        ("i griega, uno dos tres cuatro cinco seis siete, equis", ("i", "equis")),  # Y: 11234567 % 23 -> X
        ("X, uno dos tres cuatro cinco seis siete, ele", ("X", "ele")),
        ("uno dos tres cuatro cinco seis siete ocho zeta", ("uno", "zeta")),  # a DNI: 12345678 % 23 -> Z
    ],
)
def test_an_id_read_out_with_its_letters_names_is_redacted_letters_and_all(
    redactor: PresidioRedactor, said: str, letters: tuple[str, str]
) -> None:
    turn = whisper_turn(CUSTOMER, f"Claro, es {said}. Gracias.")
    redaction = redactor.redact_segments([turn], language="es")
    assert [span.entity for span in redaction.spans] == ["NATIONAL_ID"], redaction.segments[0].text
    words = [word.text.strip(" ,.") for word in turn.words or []]
    span = redaction.spans[0]
    assert (words[span.first_word], words[span.last_word]) == letters
    assert redaction.segments[0].text == "Claro, es [NATIONAL_ID]. Gracias."


@pytest.mark.parametrize(
    "said", ["equis uno dos tres cuatro cinco seis siete eme", "uno dos tres cuatro cinco seis siete ocho de"]
)
def test_an_id_read_out_with_a_wrong_check_letter_is_no_national_id(
    redactor: PresidioRedactor, said: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, f"Es {said} Madrid.")], language="es")
    assert "NATIONAL_ID" not in [span.entity for span in redaction.spans]


@pytest.mark.parametrize(
    ("language", "said", "redacted"),
    [
        ("en", "My email is j o h n at gmail dot com.", "My email is [EMAIL]."),
        ("en", "It's J. O. H. N. dot S. M. I. T. H. at outlook dot com.", "It's [EMAIL]."),
        ("es", "Es k a t i a ochenta y dos arroba yahoo punto es.", "Es [EMAIL]."),
        # whisper-base on espeak-ng's "m, a, r, y, dot s, m, i, t, h, at outlook dot com": its "at" as "and"
        ("en", "it's m-a-r-y-dot-s-m-i-d-h and outlook.com", "it's [EMAIL]"),
        ("de", "Das ist k-l-a-u-s und web.de.", "Das ist [EMAIL]."),
    ],
)
def test_an_email_spelled_letter_by_letter_is_redacted_letters_and_all(
    redactor: PresidioRedactor, language: str, said: str, redacted: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, said)], language=language)
    assert redaction.segments[0].text == redacted


@pytest.mark.parametrize(
    "said",
    [
        "My NHS number is 943 476 5918.",  # the check digit is 9
        "You can call me on 943 476 5919.",  # passes the NHS check, but nothing says NHS
        "Sure, it is A B 12 34 56 C, I think.",  # letters apart with no national insurance word
    ],
)
def test_a_british_number_with_a_wrong_check_digit_or_no_context_is_no_national_id(
    redactor: PresidioRedactor, said: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, said)], language="en")
    assert "NATIONAL_ID" not in [span.entity for span in redaction.spans], redaction.segments[0].text


@pytest.mark.parametrize(
    ("language", "question", "answer", "entity"),
    [
        ("en", "And the three digits on the back of the card?", "Four five six.", "SECURITY_CODE"),
        ("en", "Can you confirm your date of birth?", "The third of March, 1985.", "DATE_OF_BIRTH"),
        ("en", "And the expiry date on the card?", "Twelve twenty six.", "CARD_EXPIRY"),
        ("en", "And the expiry date on the card?", "1226.", "CARD_EXPIRY"),  # whisper-base, Piper's voice
        ("en", "And your postcode, please?", "It's EC1A 1BB.", "ADDRESS"),
        ("es", "¿Y su código postal?", "Veintiocho cero trece.", "ADDRESS"),
        ("de", "Und Ihre Postleitzahl?", "Eins null eins eins fünf.", "ADDRESS"),
        # a name alone in answer (ABCD's customer-service chats: "sure, may I have your name please?")
        ("en", "Sure, may I have your name please?", "Crystal Minh", "NAME"),
        ("en", "Would you give me your full name or account ID?", "Alessandro Phoenix", "NAME"),
        ("es", "¿Me dice su nombre, por favor?", "Sí, Carmen Ruiz.", "NAME"),
        ("de", "Wie ist Ihr Name, bitte?", "Jürgen Böhm.", "NAME"),
        ("fr", "Votre nom, s'il vous plaît ?", "Moreau.", "NAME"),
        ("de", "Und das Ablaufdatum der Karte?", "12.26", "CARD_EXPIRY"),
        ("es", "¿Y el código de seguridad?", "Siete ocho nueve.", "SECURITY_CODE"),
        ("de", "Und Ihr Geburtsdatum, bitte?", "Der 3. März 1985.", "DATE_OF_BIRTH"),
        ("fr", "Et le cryptogramme au dos de la carte ?", "Trois deux un.", "SECURITY_CODE"),
        ("es", "¿Y el código de la tarjeta?", "Cuatro cinco seis.", "SECURITY_CODE"),
        ("en", "What's the code on the back of your card?", "456.", "SECURITY_CODE"),
        # the identity checks of an American call: an SSN's last four, a date of birth with a two-digit year
        ("en", "Can I get the last four of your social?", "Sure, it's 6789.", "NATIONAL_ID"),
        ("en", "What's your date of birth?", "The twelfth of the fourth, eighty-nine.", "DATE_OF_BIRTH"),
        ("es", "¿Me da los últimos cuatro de su seguro social?", "Uno dos tres cuatro.", "NATIONAL_ID"),
        ("en", "What's your date of birth?", "March third, eighty-five.", "DATE_OF_BIRTH"),
        ("en", "Can I take your date of birth?", "Yeah, it's the 3rd of March.", "DATE_OF_BIRTH"),
        ("en", "What's your date of birth?", "Three fifteen eighty-five.", "DATE_OF_BIRTH"),
        ("en", "And the expiration date?", "September twenty twenty-seven.", "CARD_EXPIRY"),
        ("es", "¿Me da su fecha de nacimiento?", "El tres de marzo del ochenta y cinco.", "DATE_OF_BIRTH"),
        ("es", "¿Me da su fecha de nacimiento?", "Tres del tres del ochenta y cinco.", "DATE_OF_BIRTH"),
        ("en", "Can I get your member ID?", "It's W123456789.", "NATIONAL_ID"),
    ],
)
def test_an_answer_takes_the_context_of_the_question_just_before_it(
    redactor: PresidioRedactor, language: str, question: str, answer: str, entity: str
) -> None:
    # The caller's answer names nothing; the agent's question does (a PCI call flow).
    turns = [whisper_turn(AGENT, question), whisper_turn(CUSTOMER, answer, start=4.0)]
    redaction = redactor.redact_segments(turns, language=language)
    assert [(span.segment, span.entity) for span in redaction.spans] == [(1, entity)], redaction.segments
    alone = redactor.redact_segments([whisper_turn(CUSTOMER, answer)], language=language)
    assert alone.spans == []  # the same answer without the question stays


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        # en_refund's script: "back" names a security code ("the digits on the back") only beside its value
        (
            "en",
            "I would like that money back.",
            "You will see it on your card in three to five business days.",
        ),
        ("en", "Can I have your order number?", "It is 123456789."),
        # a code of no card
        ("en", "What's the discount code?", "2024."),
        ("es", "¿Cuál es el código de error?", "Cuatro cero cuatro."),
        ("en", "Do you use social media?", "Since 2015, for 4 years."),
        ("en", "What's the transaction ID?", "It's 99812345."),
        ("en", "Can I have the order ID?", "7916676427."),
        # a department or reason given where a name was asked for too
        ("en", "Can I have your name and the reason for your call?", "Billing."),
        ("en", "Who should I put you through to?", "Technical Support."),
    ],
)
def test_a_word_said_in_any_sentence_lends_the_answer_nothing(
    redactor: PresidioRedactor, language: str, before: str, after: str
) -> None:
    turns = [whisper_turn(CUSTOMER, before), whisper_turn(AGENT, after, start=4.0)]
    assert redactor.redact_segments(turns, language=language).spans == []


def test_an_expiry_and_a_code_in_one_answer_are_each_named_as_such(redactor: PresidioRedactor) -> None:
    # both context words are in the question: four digits that read as a month and a year are the expiry
    asked = whisper_turn(AGENT, "Can you confirm the expiration date and the CVV?")
    answer = whisper_turn(CUSTOMER, "Sure, oh four twenty-eight, and the code is seven three one.", start=4.0)
    redaction = redactor.redact_segments([asked, answer], language="en")
    assert [span.entity for span in redaction.spans] == ["CARD_EXPIRY", "SECURITY_CODE"]


@pytest.mark.parametrize(
    ("language", "card_asked", "code_asked"),
    [
        ("en", "Can I have the card number?", "And the code?"),
        ("es", "¿Me da el número de la tarjeta?", "¿Y el código?"),
        ("de", "Die Kartennummer bitte?", "Und der Code?"),
        ("fr", "Le numéro de la carte ?", "Et le code ?"),
    ],
)
def test_a_question_for_the_code_after_the_card_number_asks_for_its_security_code(
    redactor: PresidioRedactor, language: str, card_asked: str, code_asked: str
) -> None:
    # "code" names a card's code only beside the card: here the card was asked for two turns before
    card = [whisper_turn(AGENT, card_asked), whisper_turn(CUSTOMER, "4111 1111 1111 1111.", start=3.0)]
    code = [whisper_turn(AGENT, code_asked, start=9.0), whisper_turn(CUSTOMER, "789.", start=11.0)]
    redaction = redactor.redact_segments([*card, *code], language=language)
    assert [(span.segment, span.entity) for span in redaction.spans] == [
        (1, "CARD_NUMBER"),
        (3, "SECURITY_CODE"),
    ]
    # without the card before it, a code is no card's ("¿Cuál es el código de error?" / "404.")
    assert redactor.redact_segments(code, language=language).spans == []


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("en", "Yes."),
        ("en", "Sorry?"),
        ("en", "Hold on."),
        ("es", "Un momento."),
        ("de", "Moment."),
        ("fr", "Pardon ?"),
    ],
)
def test_a_reply_to_a_name_question_that_is_no_name_stays(
    redactor: PresidioRedactor, language: str, answer: str
) -> None:
    question = {
        "en": "May I have your name, please?",
        "es": "¿Me dice su nombre, por favor?",
        "de": "Wie ist Ihr Name, bitte?",
        "fr": "Votre nom, s'il vous plaît ?",
    }[language]
    turns = [whisper_turn(AGENT, question), whisper_turn(CUSTOMER, answer, start=4.0)]
    assert redactor.redact_segments(turns, language=language).spans == []


def test_an_answer_after_a_pause_still_takes_the_context_of_the_question(redactor: PresidioRedactor) -> None:
    turns = [
        whisper_turn(AGENT, "And the three digits on the back of the card?"),
        whisper_turn(CUSTOMER, "One moment, let me find it.", start=4.0),
        whisper_turn(AGENT, "Sure, take your time.", start=6.0),
        whisper_turn(CUSTOMER, "Okay.", start=9.0),
        whisper_turn(CUSTOMER, "Four five six.", start=10.0),
    ]
    redaction = redactor.redact_segments(turns, language="en")
    assert [(span.segment, span.entity) for span in redaction.spans] == [(4, "SECURITY_CODE")]


@pytest.mark.parametrize(
    "between",
    [
        # the agent moved on to something else
        [(AGENT, "Actually, let us first check the delivery address we have on file.")],
        [(AGENT, "Is there anything else?")],
        # the question was answered already
        [(CUSTOMER, "Four five six."), (AGENT, "Thank you.")],
        # too long ago
        [
            (CUSTOMER, "One moment."),
            (AGENT, "Sure."),
            (CUSTOMER, "Hm."),
            (AGENT, "Okay."),
            (CUSTOMER, "Right."),
        ],
    ],
)
def test_a_question_lends_its_context_to_its_answer_only(
    redactor: PresidioRedactor, between: list[tuple[Speaker, str]]
) -> None:
    said = [(AGENT, "And the three digits on the back of the card?"), *between]
    said.append((CUSTOMER, "I have two four six items here."))
    turns = [whisper_turn(speaker, text, start=3.0 * i) for i, (speaker, text) in enumerate(said)]
    redaction = redactor.redact_segments(turns, language="en")
    assert len(turns) - 1 not in [span.segment for span in redaction.spans], redaction.segments[-1].text


def test_a_card_whisper_misheard_is_still_redacted_next_to_the_word_card(redactor: PresidioRedactor) -> None:
    # "four one one one, one one one one, …" as whisper-base decodes it: 21 digits, Luhn fails.
    text = "My card number is 411111111111111111111."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="en")
    assert redaction.segments[0].text == "My card number is [CARD_NUMBER]."


@pytest.mark.parametrize(
    "turns",
    [
        # whisper-base on TTS callers: "four" heard as "for" and a five lost; an "oh" lost over two turns.
        ["You can call me on for 1555-2671."],
        ["The number is 202.", "A 555-143."],
        ["My phone is 0171 234 567."],
    ],
)
def test_a_phone_whisper_misheard_is_still_redacted_next_to_phone_words(
    redactor: PresidioRedactor, turns: list[str]
) -> None:
    segments = [whisper_turn(CUSTOMER, text, start=3.0 * number) for number, text in enumerate(turns)]
    redaction = redactor.redact_segments(segments, language="en")
    assert {span.entity for span in redaction.spans} == {"PHONE_NUMBER"}
    assert not any(character.isdigit() for turn in redaction.segments for character in turn.text)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # whisper-base on Kokoro callers: digits too many, or the last one heard as a letter
        ("es", "llámmeme al 91456708090."),
        ("fr", "Appelez-moi au 01 98 76 54 32 1."),
        ("de", "Sie erreichen mich unter 0152 3346 789."),
        ("de", "Meine Handynummer ist 0171234567a."),
        # with its country code after "00", a digit short (0151 has eight digits after it)
        ("de", "Meine Nummer: null null vier neun, eins fünf eins, zwei drei vier fünf sechs sieben acht."),
    ],
)
def test_a_misheard_phone_is_redacted_next_to_call_words_of_each_language(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language)
    assert [span.entity for span in redaction.spans] == ["PHONE_NUMBER"]
    assert not any(character.isdigit() for character in redaction.segments[0].text)


@pytest.mark.parametrize(
    ("language", "text", "entity"),
    [
        # A card Whisper misheard by a digit (fails Luhn) next to the language's word for "card"
        ("ru", "Номер карты 4111 1111 1111 1112.", "CARD_NUMBER"),
        ("ar", "رقم بطاقتي 4111 1111 1111 1112", "CARD_NUMBER"),
        ("he", "מספר הכרטיס 4111 1111 1111 1112", "CARD_NUMBER"),
        ("hi", "मेरा कार्ड 4111 1111 1111 1112 है", "CARD_NUMBER"),
        ("th", "บัตรของฉัน 4111 1111 1111 1112", "CARD_NUMBER"),
        ("ko", "카드는 4111 1111 1111 1112 입니다", "CARD_NUMBER"),
        ("tr", "Kart numaram 4111 1111 1111 1112", "CARD_NUMBER"),
        # A phone number that is no valid one of the default regions, next to the word for "phone"
        ("ru", "Мой телефон 8 912 345 67 89.", "PHONE_NUMBER"),
        ("zh", "我的电话是 13812345678", "PHONE_NUMBER"),
        ("ja", "携帯は 0901234567 です", "PHONE_NUMBER"),
    ],
)
def test_a_misheard_number_is_redacted_next_to_card_and_phone_words_of_other_languages(
    redactor: PresidioRedactor, language: str, text: str, entity: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language)
    assert [span.entity for span in redaction.spans] == [entity], redaction.segments[0].text


@pytest.mark.parametrize("said", ["Die Karte ist", "Die Kart ist", "Die Kartennummer ist"])
def test_a_card_whisper_heard_with_many_digits_too_many_is_still_a_card(
    redactor: PresidioRedactor, said: str
) -> None:
    # "vier null eins zwei, acht acht acht acht, …" as whisper-base decodes it: 22 digits
    redaction = redactor.redact_segments(
        [whisper_turn(CUSTOMER, f"{said} 4.012888888888888888888.")], language="de"
    )
    assert redaction.segments[0].text == f"{said} [CARD_NUMBER]."
    reference = whisper_turn(CUSTOMER, "Die Referenz ist 4.012888888888888888888.")
    assert redactor.redact_segments([reference], language="de").spans == []


@pytest.mark.parametrize(
    ("language", "text", "redacted"),
    [
        # whisper-base: "at" heard as "art", "arobase orange" as "arobas-au-hanche"
        ("de", "meiner e-mail.de ist Thomas.becker-art-web.de", "meiner e-mail.de ist [EMAIL]"),
        ("fr", "mon email, et julien-pomot-arobas-au-hanche.fr", "mon email, et [EMAIL]"),
        # at a mail provider's domain, with no e-mail word near (whisper-base on the German mono call)
        ("de", "Das ist clause.wagna.gmail.com", "Das ist [EMAIL]"),
        ("fr", "C'est jean.dupont.orange.fr", "C'est [EMAIL]"),
    ],
)
def test_an_address_whisper_wrote_without_its_at_is_redacted_by_email_words_or_its_provider(
    redactor: PresidioRedactor, language: str, text: str, redacted: str
) -> None:
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language=language)
    assert redaction.segments[0].text == redacted


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Ich schaue auf thomas.becker-art-web.de nach."),  # no e-mail word near it
        ("de", "Meine E-Mail ist bei web.de, danke."),  # a domain alone
        ("de", "Die Mail kam von www.bahn-reisen.de."),  # a web address
        ("en", "Go to mail.yahoo.com and log in."),  # a provider's own site
        ("en", "I use gmail.com for everything."),
        ("es", "Pagué dos facturas de cuarenta y cinco euros, llamé dos veces y mandé un correo."),
        ("de", "Ich habe zwei Rechnungen über fünfundvierzig Euro, ich rufe morgen an, Karte zwei."),
        ("fr", "J'ai payé deux factures de quarante-cinq euros, appelez-moi demain, point final."),
    ],
)
def test_what_holds_no_personal_data_stays_in_each_language(
    redactor: PresidioRedactor, language: str, text: str
) -> None:
    turn = whisper_turn(CUSTOMER, text)
    redaction = redactor.redact_segments([turn], language=language)
    assert redaction.spans == [] and redaction.segments == [turn]


# Short ordinary customer-service turns that hold no personal data, per language: thanks, a refund, an
# invoice, a delivery, greetings, amounts, times, quantities, dates and years without a birth near them.
ORDINARY_TURNS = {
    "zh": [
        "我要退款 谢谢",
        "你好 我的订单还没到",
        "发票 多少钱 25美元",
        "下午3点 可以吗",
        "我买了 2 件 谢谢",
        "2023年 的 发票",
        "好的 再见",
    ],
    "ja": [
        "返金 お願いします",
        "ありがとうございます",
        "請求書 を 送って ください",
        "午後3時 に 配達 です",
        "注文 は 3 個 です",
        "2024年 の 請求書",
    ],
    "ko": [
        "환불 해주세요 감사합니다",
        "안녕하세요 배송 언제 와요",
        "영수증 보내 주세요",
        "오후 3시 에 전화 주세요",
        "25달러 결제 했어요",
        "2023년 주문 이에요",
    ],
    "ar": [
        "أريد استرداد المال شكرا",
        "مرحبا متى يصل الطلب",
        "الفاتورة 25 دولار",
        "الساعة 3 مساء",
        "طلبت 3 قطع",
        "شكرا جزيلا مع السلامة",
    ],
    "he": [
        "אני רוצה החזר כספי תודה",
        "שלום מתי המשלוח מגיע",
        "החשבונית 25 דולר",
        "בשעה 3 אחר הצהריים",
        "תודה רבה להתראות",
    ],
    "hi": [
        "मुझे रिफंड चाहिए धन्यवाद",
        "नमस्ते मेरा ऑर्डर कब आएगा",
        "बिल 25 डॉलर का है",
        "दोपहर 3 बजे",
        "शुक्रिया अलविदा",
    ],
    "th": ["ขอคืนเงิน ขอบคุณ ครับ", "สวัสดี ค่ะ พัสดุ ถึง เมื่อไหร่", "ใบแจ้งหนี้ 25 ดอลลาร์", "บ่าย 3 โมง", "ขอบคุณ มาก ค่ะ"],
    "ru": [
        "Я хочу вернуть деньги, спасибо.",
        "Здравствуйте, где мой заказ?",
        "Счёт на 25 долларов.",
        "В 3 часа дня.",  # noqa: RUF001
        "Спасибо, до свидания.",
        "Заказ от 5 марта 2023 года.",
    ],
    "tr": [
        "Para iadesi istiyorum, teşekkürler.",
        "Merhaba, siparişim nerede?",
        "Fatura 25 dolar.",
        "Saat 3'te arayın.",  # noqa: RUF001
        "Teşekkür ederim, iyi günler.",
        "Adım adım anlatır mısınız?",  # noqa: RUF001
    ],
    "en": [
        "I want a refund, thanks.",
        "Hello, where is my delivery?",
        "The invoice was $25.",
        "Call back at 3 pm.",
        "I ordered 3 items on March 5th.",
        "I have been a customer since 2015.",
        "Thank you, goodbye.",
    ],
    "es": [
        "Quiero un reembolso, gracias.",
        "Hola, ¿dónde está mi pedido?",
        "La factura es de 25 euros.",
        "A las 3 de la tarde.",
        "Pedí 3 unidades el 5 de marzo.",
        "Soy cliente desde 2015.",
    ],
    "de": [
        "Ich möchte eine Rückerstattung, danke.",
        "Hallo, wo bleibt meine Lieferung?",
        "Die Rechnung war 25 Euro.",
        "Um 15 Uhr bitte.",
        "Ich habe 3 Stück am 5. März bestellt.",
        "Kunde seit 2015.",
    ],
    "fr": [
        "Je voudrais un remboursement, merci.",
        "Bonjour, où est ma livraison ?",
        "La facture est de 25 euros.",
        "À 15 heures.",
        "J'ai commandé 3 articles le 5 mars.",
        "Je suis client depuis 2015.",
    ],
}
# The scripts other than Latin, in which the English and French NER models took words for names.
NOT_LATIN = {"zh", "ja", "ko", "ar", "he", "hi", "th", "ru"}


@pytest.mark.parametrize(
    ("language", "text"), [(language, text) for language, texts in ORDINARY_TURNS.items() for text in texts]
)
def test_ordinary_turns_of_each_language_stay(redactor: PresidioRedactor, language: str, text: str) -> None:
    """Read in their own language, and those in a script other than Latin also as English and French, the
    languages of the NER models: a Chinese turn in a call Whisper took for English ("我要退款 谢谢" was
    "[NAME]"), or quoted in the LLM's summary, which is redacted as English."""
    turn = whisper_turn(CUSTOMER, text)
    for read_as in [language, "en", "fr"] if language in NOT_LATIN else [language]:
        redaction = redactor.redact_segments([turn], language=read_as)
        assert (redaction.spans, redaction.segments) == ([], [turn]), read_as
        assert redactor.redact_text(text, language=read_as) == text, read_as


# Turns of the Latin-script languages a call taken for English (or a summary) holds now and then, read as
# English: the English NER model took a word of each for a person ("Wo ist meine [NAME]?").
MISREAD_AS_ENGLISH = [
    "Die Rechnung ist falsch, ich will mein Geld zurück.",
    "Wo ist meine Lieferung? Seit Montag warte ich.",
    "Können Sie mir die Überweisung bestätigen?",
    "Vielen Dank für Ihre Geduld.",
    "Sie haben mir zweimal abgebucht.",
    "Schöne Grüße.",
    "Zahlungsbestätigung fehlt.",  # no function word: the hand-written vote kept it English
    "Señora, no entiendo.",
    "Año pasado pagué lo mismo.",
    "Reçu la facture hier.",
    "Dov'è il mio ordine?",
    "Quero o reembolso, por favor.",
    # A German noun inside an English sentence, and a short turn of a language py3langid does not tell: read
    # as English, and the English model took the word for a person.
    "She wants her Geld back.",
    "The customer said Lieferung, meaning the delivery.",
    "She sent the Rechnung twice.",
    "Teşekkür ederim.",
    "Merhaba, nasılsınız?",  # noqa: RUF001
]


@pytest.mark.parametrize("text", MISREAD_AS_ENGLISH)
def test_a_turn_of_another_language_read_as_english_gets_no_name_from_the_english_model(
    redactor: PresidioRedactor, text: str
) -> None:
    turn = whisper_turn(CUSTOMER, text)
    redaction = redactor.redact_segments([turn], language="en")
    assert (redaction.spans, redaction.segments) == ([], [turn])
    assert redactor.redact_text(text, language="en") == text


def test_a_short_turn_of_another_language_read_as_french_gets_no_name(redactor: PresidioRedactor) -> None:
    """The French model took the whole of "Teşekkür ederim." for a person."""
    assert redactor.redact_text("Teşekkür ederim.", language="fr") == "Teşekkür ederim."


@pytest.mark.parametrize(
    ("text", "hit", "words_of_another_language"),
    [
        ("She wants her Geld back.", "Geld", True),
        ("Teşekkür ederim.", "Teşekkür", True),
        ("Teşekkür ederim.", "Teşekkür ederim", True),  # the French model's hit: "ederim" is no name's word
        # Names as rare in English as "Teşekkür", or common words of their language, where the capital tells.
        ("Ayşe Kaya.", "Ayşe Kaya", False),
        ("Kovács called yesterday.", "Kovács", False),
        ("Teşekkürler, Demir bey.", "Demir", False),
        ("Weiß called yesterday.", "Weiß", False),
        ("Thanks, Jürgen.", "Jürgen", False),
    ],
)
def test_a_name_is_a_word_of_another_language_only_where_its_capital_says_nothing(
    text: str, hit: str, words_of_another_language: bool
) -> None:
    start = text.index(hit)
    found = other_language_words(text, (start, start + len(hit)), (0, len(text)), "en")
    assert found is words_of_another_language


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        # Letters English has not are no sign of another language: names have them.
        ("Jürgen Böhm.", "[NAME]."),
        ("Thanks, Jürgen.", "Thanks, [NAME]."),
        ("Zoë said she would call back.", "[NAME] said she would call back."),
        ("I spoke to José yesterday.", "I spoke to [NAME] yesterday."),
        ("Núñez is my surname.", "[NAME] is my surname."),
        # Too short to tell: read as English, and its name found (Portuguese has no NER model of its own).
        ("Obrigado, João.", "Obrigado, [NAME]."),
        # A sentence of another language gets that language's rules: its cues, a title among them.
        ("Danke, Herr Böhm, bis morgen.", "Danke, Herr [NAME], bis morgen."),
        ("Gracias, señor Núñez.", "Gracias, señor [NAME]."),
        ("Grazie, signora Rossi.", "Grazie, signora [NAME]."),
        ("Hallo, hier ist Jürgen Böhm.", "Hallo, hier ist [NAME]."),
        # Names that are common words of their language, or rare in English, inside an English sentence.
        ("My name is Anna Weber.", "My name is [NAME]."),
        ("Anna Weber called.", "[NAME] called."),
        ("Weiß called yesterday.", "[NAME] called yesterday."),
        ("Kovács will call you back.", "[NAME] will call you back."),
        ("I spoke to Frau Weiß.", "I spoke to [NAME]."),
        # An English sentence beside it keeps the English model.
        ("Wo ist meine Lieferung? Thank you, Robert Jones.", "Wo ist meine Lieferung? Thank you, [NAME]."),
    ],
)
def test_names_in_an_english_call_are_still_redacted_whatever_their_letters_or_sentence(
    redactor: PresidioRedactor, text: str, redacted: str
) -> None:
    assert redactor.redact_text(text, language="en") == redacted


def test_a_title_is_a_name_cue_in_a_language_without_an_ner_model(redactor: PresidioRedactor) -> None:
    redaction = redactor.redact_segments([whisper_turn(AGENT, "Gute Nacht, Frau Schneider.")], language="de")
    assert redaction.segments[0].text == "Gute Nacht, Frau [NAME]."
    teams = "I use MS Teams and Dr Who."  # a title in capitals is none, a capitalised one is
    assert redactor.redact_text(teams, language="de") == "I use MS Teams and Dr [NAME]."


def test_digits_without_phone_words_are_no_phone(redactor: PresidioRedactor) -> None:
    text = "It cost 12345678 euros, and I have been with you for 10 years."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="en")
    assert redaction.spans == []


def test_a_call_without_personal_data_is_unchanged(redactor: PresidioRedactor) -> None:
    turns = [
        whisper_turn(AGENT, "Thank you for calling, how can I help?"),
        whisper_turn(CUSTOMER, "I have two questions about the one plan, it costs 30 euros a month.", 3.0),
    ]
    for language in ("en", "es", "de", "fr"):
        redaction = redactor.redact_segments(turns, language=language)
        assert redaction.spans == [] and redaction.segments == turns
    text = " The customer asked about two plans\n\nand a refund of 30 euros. "
    assert redactor.redact_text(text, language="en") == text


def test_free_text_is_redacted_too(redactor: PresidioRedactor) -> None:
    summary = "  Born 1985-07-04, the caller (john.smith@example.com) paid\nwith card 4111 1111 1111 1111.\n"
    redacted = redactor.redact_text(summary, language="en")
    assert redacted == "  Born [DATE_OF_BIRTH], the caller [EMAIL] paid\nwith card [CARD_NUMBER].\n"
    assert redactor.redact_text("DOB: 1985/07/04.", language="en") == "DOB: [DATE_OF_BIRTH]."


def test_names_after_a_cue_are_looked_for_in_russian_and_turkish_but_not_in_caseless_scripts(
    redactor: PresidioRedactor,
) -> None:
    assert "NAME" in redactor.checked("ru") and "NAME" in redactor.checked("tr")
    assert "NAME" not in redactor.checked("ar")  # no capitals to tell where a name ends
    unnamed = whisper_turn(CUSTOMER, "Как вас зовут, простите?")  # "what is your name": no capitals after it
    assert redactor.redact_segments([unnamed], language="ru").spans == []
    said = "Меня зовут Иван Петров. Иван, да."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, said)], language="ru")
    assert (
        redaction.segments[0].text == "Меня зовут [NAME]. [NAME], да."
    )  # found once, redacted where it recurs


def test_a_language_without_recognizers_gets_the_independent_ones(redactor: PresidioRedactor) -> None:
    text = "La mia carta è 4111 1111 1111 1111, mi chiamo Mario Rossi, mario@example.it"
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="it")
    assert {span.entity for span in redaction.spans} == {"CARD_NUMBER", "EMAIL"}
    assert set(redaction.checked) == {"CARD_NUMBER", "BANK_ACCOUNT", "EMAIL", "PHONE_NUMBER", "POLICY_NUMBER"}
    assert "NAME" in redactor.redact_segments([], language="en").checked


def unspaced_turn(chunks: list[str]) -> Segment:
    """A Japanese or Chinese turn as Whisper writes it: chunks of characters, no spaces between words."""
    words = [
        Word(start=0.4 * i, end=0.4 * i + 0.3, text=chunk, probability=0.9) for i, chunk in enumerate(chunks)
    ]
    return Segment(
        speaker=CUSTOMER, start=0.0, end=words[-1].end, text="".join(chunks), confidence=0.9, words=words
    )


@pytest.mark.parametrize(
    ("language", "chunks", "entity", "kept"),
    [
        (
            "ja",
            ["カード", "番号", "は", "4", "111", " 1111", " 1111", " 1111", "です。"],
            "CARD_NUMBER",
            "です",
        ),
        ("zh", ["我的", "卡号", "是", "4111", "1111", "1111", "1111", "。"], "CARD_NUMBER", "卡号是"),
        ("ja", ["メール", "は", "taro", "@", "example", ".", "jp", "です"], "EMAIL", "メールは"),
        ("zh", ["我的", "邮箱", "是", "zhang", "wei", "艾特", "qq", "点", "com"], "EMAIL", "邮箱是"),
        ("ja", ["電話", "番号", "は", "090", "-", "1234", "-", "5678", "です"], "PHONE_NUMBER", "番号は"),
        # Full-width digits and letters, as Whisper writes them in Japanese now and then
        (
            "ja",
            ["カード", "番号", "は", *full_width("4111 1111 1111 1111").split(), "です。"],
            "CARD_NUMBER",
            "です",
        ),
        ("ja", ["メール", "は", full_width("taro@example.jp"), "です"], "EMAIL", "メールは"),
    ],
)
def test_numbers_and_addresses_next_to_characters_of_unspaced_scripts_are_redacted_alone(
    redactor: PresidioRedactor, language: str, chunks: list[str], entity: str, kept: str
) -> None:
    redaction = redactor.redact_segments([unspaced_turn(chunks)], language=language)
    assert [span.entity for span in redaction.spans] == [entity]
    assert kept in redaction.segments[0].text  # the words around it stay


def test_phone_numbers_without_a_country_code_are_read_in_the_regions_listed() -> None:
    """A Chinese mobile and a Russian one dialled from inside Russia are no valid numbers of the default
    regions (North America, western Europe): a contact center in China or Russia lists its own. (Said
    without a word for "phone" or "number", which would redact them anyway.)"""
    turns = [
        whisper_turn(CUSTOMER, "你可以打 138 1234 5678"),  # "you can call"
        whisper_turn(AGENT, "Перезвонить на 8 912 345-67-89?"),  # "call back on"
    ]
    default = PresidioRedactor(RedactionSettings()).redact_segments(turns, language="zh")
    assert default.spans == []
    listed = PresidioRedactor(RedactionSettings(phone_regions=["CN", "RU"]))
    redaction = listed.redact_segments(turns, language="zh")
    assert [(span.speaker, span.entity) for span in redaction.spans] == [
        (CUSTOMER, "PHONE_NUMBER"),
        (AGENT, "PHONE_NUMBER"),
    ]
    assert [turn.text for turn in redaction.segments] == [
        "你可以打 [PHONE_NUMBER]",
        "Перезвонить на [PHONE_NUMBER]?",
    ]


def test_threads_share_one_redactor(redactor: PresidioRedactor) -> None:
    texts = [f"My card is 4111 1111 1111 1111 and I am number {n}." for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        redacted = list(pool.map(lambda text: redactor.redact_text(text, language="en"), texts))
    assert redacted == [f"My card is [CARD_NUMBER] and I am number {n}." for n in range(8)]


def test_types_switched_off_are_neither_found_nor_listed() -> None:
    redactor = PresidioRedactor(RedactionSettings(entities=[EntityType.card_number]))
    text = "My card is 4111 1111 1111 1111 and my email is a@example.com."
    redaction = redactor.redact_segments([whisper_turn(CUSTOMER, text)], language="en")
    assert [span.entity for span in redaction.spans] == ["CARD_NUMBER"]
    assert redaction.checked == ["CARD_NUMBER"]


def test_redaction_off_changes_nothing() -> None:
    turns = [whisper_turn(CUSTOMER, "My card is 4111 1111 1111 1111.")]
    redaction = PresidioRedactor(RedactionSettings(enabled=False)).redact_segments(turns, language="en")
    assert redaction.segments == turns and redaction.spans == []


@pytest.mark.parametrize("language", ["en", "es", "de", "fr", "it"])
def test_presidio_is_asked_only_for_what_the_language_has_recognizers_for(
    redactor: PresidioRedactor, language: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Presidio warns on every entity without a recognizer in the language (and is to refuse them): on the
    # sample call that was some ninety lines of warnings in front of the record.
    with caplog.at_level("WARNING", logger="presidio-analyzer"):
        redaction = redactor.redact_segments(
            [whisper_turn(CUSTOMER, "My card is 4111 1111 1111 1111, mario@example.it")], language=language
        )
    assert {span.entity for span in redaction.spans} >= {"CARD_NUMBER", "EMAIL"}
    assert [record.getMessage() for record in caplog.records if record.name == "presidio-analyzer"] == []
