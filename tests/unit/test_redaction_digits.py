"""Spoken numbers and e-mails as detectors read them, in the four languages, and the map back to the words."""

from __future__ import annotations

import pytest

from callsense.redaction.digits import normalise
from tests.unit.redaction_helpers import ARABIC_INDIC, full_width, script_digits


def joined(text: str, language: str = "en", turn_ends: set[int] | None = None) -> str:
    words = [f" {token}" for token in text.split()]
    ends = turn_ends if turn_ends is not None else {len(words) - 1}
    return normalise(words, language=language, turn_ends=ends, joined=True).text


@pytest.mark.parametrize(
    ("language", "spoken", "digits"),
    [
        ("en", "four one one one, one one one one, one one one one, one one one one.", "4111111111111111"),
        ("en", "4111 1111 1111 1111", "4111111111111111"),
        ("en", "4012 -8888 8888 1881", "4012888888881881"),  # Whisper splits at the dash
        ("en", "41 11 11 11", "41111111"),
        ("en", "double four seven nine oh oh", "447900"),
        ("en", "forty one eleven", "4111"),
        ("en", "four one, uh, one one", "4111"),
        ("en", "4111 1111, Mm-hmm. 1111 1111", "4111111111111111"),  # the agent's backchannel, on a mono call
        ("es", "seis uno dos, ajá, tres cuatro", "61234"),
        ("es", "cuatro uno uno uno, eh, cuarenta y uno once", "41114111"),
        ("es", "doble cuatro cero", "440"),
        ("de", "vier eins eins eins, äh, einundvierzig elf", "41114111"),
        ("de", "null eins sieben zwo", "0172"),
        ("fr", "zéro six, euh, douze trente-quatre", "061234"),
        ("fr", "quarante et un onze", "4111"),
    ],
)
def test_a_spoken_number_becomes_one_block_of_digits(language: str, spoken: str, digits: str) -> None:
    assert joined(f"it is {spoken}", language) == f"it is {digits}"


def test_a_number_goes_on_across_turns_but_stops_at_a_sentence_end_inside_one() -> None:
    # turn 1: "4111 1111." turn 2: "uh 1111 1111"
    assert joined("4111 1111. uh 1111 1111", turn_ends={1, 4}) == "4111111111111111"
    # the sentence's full stop is kept after the number, where a word follows: the detectors see two sentences
    assert joined("4111 1111. Then 1111 1111", turn_ends={4}) == "41111111. Then 11111111"
    assert joined("34.6.9. 9.80.8.77.66. Thanks.") == "346998087766. Thanks."


def test_oh_and_one_alone_are_words_not_digits() -> None:
    text = "Oh I see, one moment. That one, please."
    assert joined(text) == text


@pytest.mark.parametrize(
    ("language", "spoken"),
    [
        ("en", "john dot smith at example dot com"),
        ("es", "john punto smith arroba example punto com"),
        ("de", "john punkt smith at example punkt com"),
        ("fr", "john point smith arobase example point com"),
    ],
)
def test_a_spoken_email_is_written_as_one(language: str, spoken: str) -> None:
    assert joined(f"mail: {spoken}.", language) == "mail: john.smith@example.com"


def test_a_hit_maps_back_to_the_words_it_came_from() -> None:
    words = [" my", " card", " is", " four", " one,", " uh,", " one", " one", " thanks"]
    view = normalise(words, language="en", turn_ends={8}, joined=True)
    assert view.text == "my card is 4111 thanks"
    start = view.text.index("4111")
    assert view.words_at(start, start + 4) == (3, 7)
    assert view.words_at(0, 2) == (0, 0)


def test_words_whisper_wrote_without_a_space_are_one_token() -> None:
    words = [" mail", " anadot", "schmidtat", "gmail.com.", " card", " 4012", "-8888", " 8888", " 1881"]
    view = normalise(words, language="en", turn_ends={8}, joined=True)
    assert view.text == "mail ana.schmidt@gmail.com card 4012888888881881"
    assert view.words_at(5, 10) == (1, 3)


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("call me on for 1555-2671.", "call me on 415552671"),  # whisper-base on "four one five, …"
        ("my card number is for 1111 1111 1111 1111", "my card number is 41111111111111111"),
        ("two oh too, five five five", "202555"),
    ],
)
def test_a_homophone_right_before_a_number_is_its_digit(spoken: str, digits: str) -> None:
    assert joined(spoken) == digits


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for one thing.",
        "I want to go too.",
        "We won one.",
        "It is for you.",
        "That is 4 for you.",
        # before a quantity or in a range: a preposition ("445 minutes", "325 days" before)
        "I was on hold for 45 minutes.",
        "It takes 3 to 5 days.",
        "We are open from 9 to 5 on Sundays.",
    ],
)
def test_a_homophone_without_a_number_after_it_stays_a_word(text: str) -> None:
    assert joined(text) == text


@pytest.mark.parametrize(
    ("language", "heard", "email"),
    [
        ("es", "Mi correo es Carmen.ruiz, arrobajemael.com", "carmen.ruiz@jemael.com"),  # whisper-base
        ("fr", "mon email julien.moreau arobaseorange.fr", "julien.moreau@orange.fr"),
    ],
)
def test_an_at_run_together_with_the_domain_still_makes_an_email(
    language: str, heard: str, email: str
) -> None:
    assert joined(heard, language).endswith(email)


@pytest.mark.parametrize(
    ("language", "spoken", "digits"),
    [
        ("es", "más treinta y cuatro, seis nueve nueve, ochenta y ocho", "+3469988"),
        ("es", "cuarenta, cero cero, cero cinco, sesenta y seis", "40000566"),  # a card read in pairs
        ("de", "sechzig elf, elf elf, elf siebzehn", "601111111117"),
        ("de", "null eins fünf zwo, doppel drei vier", "0152334"),
        ("de", "plus neunundvierzig, eins sieben sechs", "+49176"),
        ("fr", "zéro un, quatre-vingt-dix-huit, soixante-seize, soixante et onze", "01987671"),
        ("fr", "deux double trois quatre, quatre-vingts", "233480"),
        ("ru", "+7 912 345-67-89", "+79123456789"),  # the "+" of a country code written as digits
        ("ar", script_digits("+966 50 123", ARABIC_INDIC), "+96650123"),  # Arabic-Indic digits, as ASCII ones
        ("ja", full_width("4111 1111"), "41111111"),
    ],
)
def test_numbers_said_in_pairs_with_a_country_code_or_a_repeat(
    language: str, spoken: str, digits: str
) -> None:
    assert joined(spoken, language) == digits


@pytest.mark.parametrize(
    ("language", "heard", "digits"),
    [
        # whisper-base on Kokoro callers: a pause read as a full stop between digit groups
        ("es", "Mi móvil es más 34.6.9. 9.80.8.77.66.", "Mi móvil es +346998087766"),
        ("de", "Die Nummer ist 030. 1234 5678", "Die Nummer ist 03012345678"),
    ],
)
def test_a_full_stop_between_two_groups_of_digits_does_not_end_the_number(
    language: str, heard: str, digits: str
) -> None:
    assert joined(heard, language) == digits


@pytest.mark.parametrize(
    "heard", ["Ich bin am 3.3.1985 geboren.", "Geboren am 03.03.85, ja.", "Am 31.12.99."]
)
def test_a_date_written_with_dots_stays_a_date(heard: str) -> None:
    # as one with slashes: its digits joined, "3.3.1985" read 331985 and "03.03.85" a phone number
    assert joined(heard, "de") == heard


@pytest.mark.parametrize(
    ("language", "heard", "digits"),
    [
        # whisper-base on "plus trente-trois, six, quatorze, vingt-cinq, trente-six, soixante-dix-sept"
        ("fr", "plus trente-trois-six-quatorze, 2536-67.", "+33614253667"),
        ("es", "seis-nueve-nueve-ochenta-y-ocho", "69988"),
        ("fr", "soixante-dix-huit", "78"),  # one number stays one
    ],
)
def test_numbers_whisper_joined_with_hyphens_are_read_one_by_one(
    language: str, heard: str, digits: str
) -> None:
    assert joined(heard, language) == digits
    assert joined("C'est un peu-peu cher.", "fr") == "C'est un peu-peu cher."


def test_a_letter_run_into_a_long_number_is_a_misheard_digit_or_filler() -> None:
    # whisper-base: "… fünf sechs sieben acht" as "0171234567a.", "null drei null, äh, eins zwei …" as
    # "0,3,0. / L1,2,3,4,5,6,7,8."
    assert joined("Meine Handynummer ist 0171234567a.", "de") == "Meine Handynummer ist 0171234567"
    assert joined("Die Nummer ist 0,3,0. L1,2,3,4,5,6,7,8.", "de") == "Die Nummer ist 03012345678"
    assert joined("Vitamin B12, Flug LH1234.", "de") == "Vitamin B12, Flug LH1234."
    assert joined("My passport is A12345678.") == "My passport is A12345678."
    assert joined("Bahnhofstraße 7a", "de") == "Bahnhofstraße 7a"  # a house number keeps its letter
    assert joined("Mi DNI es 12345678Z.", "es") == "Mi DNI es 12345678Z."


@pytest.mark.parametrize(
    ("language", "spoken", "email"),
    [
        ("es", "jose guion bajo garcia arroba hotmail punto es", "jose_garcia@hotmail.es"),
        ("es", "pablo barra baja lopez arroba outlook punto com", "pablo_lopez@outlook.com"),
        ("fr", "camille tiret bas petit arobase laposte point net", "camille_petit@laposte.net"),
        ("fr", "julien point moreau arobas orange point fr", "julien.moreau@orange.fr"),
        ("de", "klaus punkt wagner Klammeraffe gmail punkt com", "klaus.wagner@gmail.com"),
        ("de", "anna unterstrich schmidt ät gmx punkt d e", "anna_schmidt@gmx.de"),  # a spelled domain
        ("fr", "sophie arobase la poste point net", "sophie@laposte.net"),  # a domain in two words
        ("de", "mueller zweiundachtzig at web punkt de", "mueller82@web.de"),
        ("es", "ana punto ruiz ochenta y cinco arroba gmail punto com", "ana.ruiz85@gmail.com"),
        ("en", "j o h n at gmail dot com", "john@gmail.com"),  # spelled letter by letter
        ("en", "M. A. R. Y. dot s m i t h at outlook dot com", "mary.smith@outlook.com"),
        ("es", "k a t i a ochenta y dos arroba yahoo punto es", "katia82@yahoo.es"),
        ("de", "peter punkt m u e l l e r at web punkt de", "peter.mueller@web.de"),
        # a hyphen in the domain: the German "minus", "guion", "dash"
        ("de", "info at mueller minus bau punkt de", "info@mueller-bau.de"),
        ("es", "ventas arroba mi guion tienda punto es", "ventas@mi-tienda.es"),
        ("en", "info at acme dash shop dot com", "info@acme-shop.com"),
    ],
)
def test_spoken_email_forms_of_each_language(language: str, spoken: str, email: str) -> None:
    assert joined(f"es {spoken}.", language) == f"es {email}"


@pytest.mark.parametrize(
    ("language", "heard", "email"),
    [
        ("fr", "et julien-pomot-arobas-au-hanche.fr", "julien-pomot@au-hanche.fr"),  # whisper-base
        ("de", "ist thomas.becker-at-web.de", "thomas.becker@web.de"),
    ],
)
def test_an_address_whisper_wrote_as_one_hyphenated_word(language: str, heard: str, email: str) -> None:
    assert joined(heard, language).endswith(email)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "Pagué dos facturas de cuarenta y cinco euros, y fui a la oficina."),
        ("de", "Ich war um acht Uhr bei der Post, das kostet zwanzig Euro."),
        ("fr", "Je suis à la maison depuis deux jours, au point mort."),
        # English's idioms with "at" and "point" (banking77's texts): English says "dot" in an address
        ("en", "I have tried five times at this point. Can you tell me what the issue is?"),
        ("en", "It failed when I used it at a point of sale."),
        ("en", "At that point, it broke."),
    ],
)
def test_numbers_and_email_words_without_an_address_stay_apart(language: str, text: str) -> None:
    assert "@" not in joined(text, language)


@pytest.mark.parametrize(
    ("language", "heard", "digits"),
    [
        # whisper-base on "nueve uno, cuatro cinco seis, setenta y ocho, noventa"
        ("es", "llámeme al 9145670 y 890.", "llámeme al 914567890"),
        ("es", "Mi móvil es más 346.9, 9.80 y 8.70 y 7.66.", "Mi móvil es +34699887766"),
        ("fr", "il y a 20 et 1 personnes", "il y a 21 personnes"),
        # beam 5 on "…, sesenta y seis, cincuenta y cinco, cincuenta y seis" (the number beam of redaction)
        (
            "es",
            "la tarjeta es 40,005,66,55,60 y seis, cincuenta y cinco, cincuenta y seis.",
            "la tarjeta es 400056655665556",
        ),
        ("es", "son 60 y dos euros", "son 62 euros"),
        ("de", "Ich habe 20 und 5 Euro", "Ich habe 20 und 5 Euro"),  # German says the units first
    ],
)
def test_tens_and_units_whisper_wrote_as_digits_make_one_number(
    language: str, heard: str, digits: str
) -> None:
    assert joined(heard, language) == digits


@pytest.mark.parametrize(
    ("heard", "email"),
    [
        # whisper-base writes "arroba" as "a roba", alone or run into the domain
        ("Mi correo es José Guión bajo García a roba otma el punto es.", "josé_garcía@otmael.es"),
        ("Mi correo, Carmen punto Ruiz, a robajemael.com", "carmen.ruiz@jemael.com"),
    ],
)
def test_arroba_written_in_two_words_is_still_the_at(heard: str, email: str) -> None:
    assert joined(heard, "es").endswith(email)
    assert joined("Juan va a robar el coche punto com", "es") == "Juan va a robar el coche punto com"
