"""The repetition guard removes Whisper's decoding loops but keeps what people really repeat."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from callsense.errors import ModelAssetError
from callsense.speech.passes import LOOP_COMPRESSION_RATIO
from callsense.speech.repetitions import (
    MAX_NUMBER_DIGITS,
    cut_repetitions,
    longest_number,
    loop_compression_ratio,
)
from callsense.speech.whisper import _load_model


def plain_compression_ratio(text: str) -> float:
    """faster-whisper's own measure (get_compression_ratio)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))


@pytest.mark.parametrize(
    "text",
    [
        "It is 4111 1111 1111 1111.",
        "four one one one, one one one one, one one one one, one one one one",
        "My PIN is one one one.",
        "The code is 7, 7, 7, 7, 7.",
        "uno uno uno dos",
        "eins eins eins",
        "No, no, no, that's wrong.",
        "Yes yes yes, that's right.",
        "Bye, bye, bye.",
        "zéro zéro zéro six",
    ],
)
def test_digit_groups_and_emphasis_survive(text: str) -> None:
    assert cut_repetitions(text) == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("die im Land, die im Land, die im Land, die im Land", "die im Land"),
        ("Thank you. Thank you. Thank you. Thank you.", "Thank you."),
        ("I see, I see, I see", "I see"),
        ("the the the the the the the the", "the"),
        ("Okay okay okay okay okay okay so", "Okay so"),
    ],
)
def test_decoding_loops_collapse_to_one(text: str, kept: str) -> None:
    assert cut_repetitions(text) == kept


def test_text_without_repeats_is_unchanged() -> None:
    text = "I was charged twice for my subscription this month."
    assert cut_repetitions(text) == text


# What whisper-base wrote for cards read digit by digit (espeak-ng at 16 kHz, bench/digits.py): plain gzip
# takes each for a loop (ratio above 2.4), and the window was dropped.
READ_OUT_CARDS = [
    "Mita jeca es quieto Uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno",
    "Mein Kater ist hier " + "eins " * 17,
    "cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno",
    "The card is five four five four, five four five four, five four five four, five four five four.",
    "5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, uh, 5, 5, 5, 4, 4, 4, 4, 4.",
]
# Whisper's loops on the same kind of audio (es, de and fr espeak-ng voices at 8 kHz, temperature 0).
LOOPS = [
    "Mi tarjeta es... Wow, " + "ooh, " * 110,
    "10, " * 112,
    "meine Karte, die " + "ein, " * 24,
    "Oh ! " * 60,
    "La campé c'est pas malheureux " + "Leit leit " * 9,
    "mais fuck fuck fuck fuck fuck fuck fuck fuck fuck",
    "C'est le cas de l'autre, " * 5,
    "uno " * 60,
    "4111 " + "1111 " * 20,
]


@pytest.mark.parametrize("text", READ_OUT_CARDS)
def test_a_card_read_digit_by_digit_is_no_loop(text: str) -> None:
    assert plain_compression_ratio(text) > LOOP_COMPRESSION_RATIO
    assert loop_compression_ratio(text) < LOOP_COMPRESSION_RATIO


@pytest.mark.parametrize("text", LOOPS)
def test_loops_are_still_loops(text: str) -> None:
    assert loop_compression_ratio(text) > LOOP_COMPRESSION_RATIO


def test_a_run_of_more_digits_than_any_number_is_collapsed_as_a_loop() -> None:
    card = "uno uno uno uno, " * 4
    assert cut_repetitions(card) == card
    assert cut_repetitions("uno uno uno uno, " * (MAX_NUMBER_DIGITS // 4 + 1)).strip(", ") == "uno"


def test_text_without_numbers_measures_as_gzip_does() -> None:
    text = "I was charged twice for my subscription this month, and nobody called me back."
    assert loop_compression_ratio(text) == plain_compression_ratio(text)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("la tarjeta es 4-0-1-2.", 4),
        ("Mi móvil es seis uno dos, tres cuatro cinco, seis siete ocho.", 9),
        ("0171 234, äh, 5678", 11),
        ("Meine Karte ist 4.012888888888888888.", 19),
        ("Tengo dos preguntas sobre mi factura.", 1),
        ("Pagué dos facturas de 45 euros el mes pasado.", 2),
        ("Ma carte s'écarte, on en a.", 0),
    ],
)
def test_the_longest_number_read_out_counts_its_digits(text: str, digits: int) -> None:
    assert longest_number(text) == digits


def test_faster_whisper_measures_loops_the_same_way_once_a_model_is_loaded(tmp_path: Path) -> None:
    from faster_whisper import transcribe

    with pytest.raises(ModelAssetError):
        _load_model(str(tmp_path / "no-model"), "cpu", "int8", 1, 1)
    assert transcribe.get_compression_ratio is loop_compression_ratio
