"""Values the turns were redacted of, redacted where text about the call repeats them
(``redaction/said.py``): the turns redacted by the fake redactor, so each case says which words it took."""

from __future__ import annotations

from callsense.calls.schemas import Speaker
from callsense.redaction.fake import FakeRedactor
from callsense.redaction.said import redact_said, said_values
from tests.unit.redaction_helpers import whisper_turn


def _redacted(text: str, words: list[str], entity: str, language: str = "en", summary: str = "") -> str:
    turns = [whisper_turn(Speaker.customer, text)]
    shown = FakeRedactor(words, entity=entity).redact_segments(turns, language=language).segments
    return redact_said(summary, said_values(turns, shown, language=language))


def test_a_name_recurs_whole_or_by_each_capitalised_word_and_never_as_a_lower_case_word() -> None:
    summary = "Rose Miller called; Ms Miller said prices rose. Rose will call back."
    redacted = _redacted("My name is Rose Miller.", ["rose", "miller"], "NAME", summary=summary)
    assert redacted == "[NAME] called; Ms [NAME] said prices rose. [NAME] will call back."


def test_a_number_read_out_in_words_recurs_as_digits_with_any_separators() -> None:
    said = "it is four one one one one one one one one one one one one one one two"
    words = ["four", "one", "two"]
    summary = "Paid with 4111-1111-1111-1112, then 4111 1111 1111 1112 again; order 41111 and 1112 kept."
    redacted = _redacted(said, words, "CARD_NUMBER", summary=summary)
    assert redacted == "Paid with [CARD_NUMBER], then [CARD_NUMBER] again; order 41111 and 1112 kept."


def test_a_spanish_number_and_a_phrase_in_any_case() -> None:
    said = "vivo en calle Mayor 15, mi teléfono es seis uno dos tres cuatro cinco seis siete ocho"
    turns = [whisper_turn(Speaker.customer, said)]
    address = FakeRedactor(["calle", "mayor", "15"], entity="ADDRESS").redact_segments(turns, language="es")
    phone = FakeRedactor(
        ["seis", "uno", "dos", "tres", "cuatro", "cinco", "siete", "ocho"], entity="PHONE_NUMBER"
    )
    shown = phone.redact_segments(address.segments, language="es").segments
    values = said_values(turns, shown, language="es")
    summary = "Lives at Calle Mayor 15; call 612 345 678, not 612 345 679."
    assert redact_said(summary, values) == "Lives at [ADDRESS]; call [PHONE_NUMBER], not 612 345 679."


def test_nothing_redacted_leaves_the_text_as_it_is() -> None:
    summary = "Jürgen paid 4111 1111 1111 1112."
    assert _redacted("Ich heiße Jürgen.", [], "NAME", "de", summary=summary) == summary
