"""The fake redactor the stage tests use: it redacts its words, keeps timings, and leaves the rest alone."""

from __future__ import annotations

from callsense.calls.schemas import Speaker
from callsense.redaction.fake import FakeRedactor
from tests.unit.redaction_helpers import whisper_turn


def test_the_fake_redacts_its_words_with_their_timings() -> None:
    turns = [
        whisper_turn(Speaker.agent, "Hello there."),
        whisper_turn(Speaker.customer, "I am Smith, hi.", 2.0),
    ]
    redaction = FakeRedactor(["smith"]).redact_segments(turns, language="en")
    assert redaction.segments[0] is turns[0]
    assert redaction.segments[1].text == "I am [NAME] hi."
    span = redaction.spans[0]
    assert (span.segment, span.first_word, span.last_word, span.speaker) == (1, 2, 2, Speaker.customer)
    assert (span.start, span.end) == (turns[1].words[2].start, turns[1].words[2].end)
    assert redaction.checked == ["NAME"]
    assert FakeRedactor(["smith"]).redact_text("Mr Smith called.", language=None) == "Mr [NAME] called."
