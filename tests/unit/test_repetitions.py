"""The repetition guard removes Whisper's decoding loops but keeps what people really repeat."""

from __future__ import annotations

import pytest

from callsense.speech.repetitions import cut_repetitions


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
