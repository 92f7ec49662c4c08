"""Values the turns were redacted of, redacted where the call or text about it repeats them
(``redaction/said.py``): in text about the call, the turns redacted by the fake redactor so that each case
says which words it took; in the call's own turns, by the real redactor, as a call repeats them."""

from __future__ import annotations

import pytest

from callsense.calls.schemas import Speaker
from callsense.config.redaction import RedactionSettings
from callsense.redaction.engine import PresidioRedactor
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


def test_a_name_word_that_is_a_stop_word_or_a_title_is_not_looked_for_alone() -> None:
    summary = "Will Turner said he will call back. Will you? Thanks, Dr Turner. Bye, Dr."
    redacted = _redacted("I'm Dr Will Turner.", ["dr", "will", "turner"], "NAME", summary=summary)
    assert redacted == "[NAME] said he will call back. Will you? Thanks, Dr [NAME]. Bye, Dr."


def test_a_name_recurs_spelled_out_and_a_spelled_name_as_the_word_it_spells() -> None:
    summary = "Smith spelled it S-M-I-T-H, then s, m, i, t, h, then SMITH; Smithson and S M I T kept."
    redacted = _redacted("I am John Smith.", ["john", "smith"], "NAME", summary=summary)
    assert redacted == "[NAME] spelled it [NAME], then [NAME], then [NAME]; Smithson and S M I T kept."
    summary = "Mr Kowalski (K O W A L S K I) asked for a refund."
    redacted = _redacted("It's K-O-W-A-L-S-K-I.", ["k-o-w-a-l-s-k-i"], "NAME", summary=summary)
    assert redacted == "Mr [NAME] ([NAME]) asked for a refund."


def test_a_name_recurs_spelled_with_words_and_a_name_so_spelled_as_the_word_it_spells() -> None:
    summary = "Smith spelled it s as in Sam, M as in Mary, I, T, H and Sierra Mike India Tango Hotel."
    redacted = _redacted("I am John Smith.", ["john", "smith"], "NAME", summary=summary)
    assert redacted == "[NAME] spelled it [NAME] and [NAME]."
    # the words said for the letters are none of the name: "as in", "Sam" and "Mary" stay
    summary = "Mr Smith, as in the letter, asked Sam and Mary."
    spelled = "It's S as in Sam, M as in Mary, I, T, H."
    redacted = _redacted(
        spelled, ["s", "as", "in", "sam", "m", "mary", "i", "t", "h"], "NAME", summary=summary
    )
    assert redacted == "Mr [NAME], as in the letter, asked Sam and Mary."


def test_an_email_recurs_by_its_user_name_where_that_is_no_word() -> None:
    # ABCD's chats: "Username: cminh730" next to "cminh730@email.com"
    summary = "Logged in as cminh730, then CMINH730; cminh73 and xcminh730 kept."
    redacted = _redacted("It is cminh730@email.com.", ["cminh730@email.com"], "EMAIL", summary=summary)
    assert redacted == "Logged in as [EMAIL], then [EMAIL]; cminh73 and xcminh730 kept."
    summary = "Asked support about the refund."
    assert _redacted("Write to support@shop.com.", ["support@shop.com"], "EMAIL", summary=summary) == summary


def test_a_number_read_out_in_words_recurs_as_digits_with_any_separators() -> None:
    said = "it is four one one one one one one one one one one one one one one two"
    words = ["four", "one", "two"]
    summary = (
        "Paid with 4111-1111-1111-1112, then 4111 1111 1111 1112 again, "
        "4111\u20131111\u20131111\u20131112 (as the LLM writes a dash), 4111,1111,1111,1112 and "
        "(4111) 1111 1111 1112; order 41111 and 1112 kept."
    )
    redacted = _redacted(said, words, "CARD_NUMBER", summary=summary)
    assert redacted == (
        "Paid with [CARD_NUMBER], then [CARD_NUMBER] again, [CARD_NUMBER] (as the LLM writes a dash), "
        "[CARD_NUMBER] and ([CARD_NUMBER]; order 41111 and 1112 kept."
    )


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


@pytest.fixture(scope="module")
def redactor() -> PresidioRedactor:
    return PresidioRedactor(RedactionSettings())


REPEATED = [
    (
        "es",
        ["Hola, me llamo Lucía Ortega.", "Gracias, señora Ortega.", "Sí.", "Perfecto, Lucía."],
        ["Hola, me llamo [NAME].", "Gracias, señora [NAME].", "Sí.", "Perfecto, [NAME]."],
    ),
    (
        "de",
        [
            "Guten Tag, ich heiße Jürgen Böhm.",
            "Danke, Herr Böhm. Ihre Adresse?",
            "Bahnhofstraße 7.",
            "Also Bahnhofstraße 7.",
        ],
        [
            "Guten Tag, ich heiße [NAME].",
            "Danke, Herr [NAME]. Ihre Adresse?",
            "[ADDRESS].",
            "Also [ADDRESS].",
        ],
    ),
    (  # the NER model takes "Tom Can" for one person: "Can" alone is no name
        "en",
        ["Hello, this is Tom Can you hear me?", "Yes Tom. Can I help?", "Okay.", "Thanks, Tom."],
        ["Hello, this is [NAME] you hear me?", "Yes [NAME]. Can I help?", "Okay.", "Thanks, [NAME]."],
    ),
    (
        "en",
        ["Hi, my name is Rose Miller.", "Thanks Rose. Prices rose last month.", "Okay.", "Bye, Ms Miller."],
        ["Hi, my name is [NAME].", "Thanks [NAME]. Prices rose last month.", "Okay.", "Bye, [NAME]."],
    ),
]


@pytest.mark.parametrize(("language", "said", "shown"), REPEATED)
def test_a_value_found_once_is_redacted_where_the_other_speaker_repeats_it(
    redactor: PresidioRedactor, language: str, said: list[str], shown: list[str]
) -> None:
    speakers = [Speaker.customer, Speaker.agent] * 2
    turns = [
        whisper_turn(who, text, start=5.0 * i)
        for i, (who, text) in enumerate(zip(speakers, said, strict=True))
    ]
    redaction = redactor.redact_segments(turns, language=language)
    assert [segment.text for segment in redaction.segments] == shown
    # the agent's words are masked in the recording too, on the agent's side
    repeated = [span for span in redaction.spans if span.segment == 1]
    assert [(span.speaker, span.entity) for span in repeated] == [(Speaker.agent, "NAME")]
    assert repeated[0].start == turns[1].words[repeated[0].first_word].start
