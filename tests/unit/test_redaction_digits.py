"""Spoken numbers and e-mails as detectors read them, in the four languages, and the map back to the words."""

from __future__ import annotations

import pytest

from callsense.redaction.digits import normalise


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
    assert joined("4111 1111. Then 1111 1111", turn_ends={4}) == "41111111 Then 11111111"


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
    ["Thanks for one thing.", "I want to go too.", "We won one.", "It is for you.", "That is 4 for you."],
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
