"""Personal data a call's turns were redacted of, looked for on the surfaces around the redacted view, on
real PostgreSQL through the real stages with the real redactor (its recognizers and NER models) and the
models' fakes: what a user without the permission, a viewer's search and a CRM not opted in get."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from callsense.backends.llm.base import JSONRequest
from callsense.backends.llm.fake import FakeLLM
from callsense.calls import service as calls
from callsense.calls.schemas import Segment, Speaker
from callsense.config import Settings
from callsense.config.models import TranslationEngine
from callsense.config.redaction import RedactionSettings
from callsense.pipeline import deliver, tasks
from callsense.redaction.engine import PresidioRedactor
from callsense.runtime import Runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.speech.fake import FakeTranscriber
from tests.crm_calls import ANALYSIS
from tests.dashboard_seed import spread_words
from tests.redaction_calls import STEREO, process, runtime

SURNAME = "Böhm"
CARD = "4111 1111 1111 1112"  # fails Luhn: a card only because "Karte" is said before it
SAID = [
    (Speaker.agent, "Guten Tag, wie kann ich helfen?", 0.0, 2.0),
    (Speaker.customer, f"Ich heiße Jürgen {SURNAME}, meine Karte ist {CARD}.", 2.0, 5.0),
    (Speaker.agent, f"Danke, Herr {SURNAME}.", 5.0, 6.0),  # no cue: no German NER model finds it alone
]
# Whisper's translation of the customer's turn, without the cue and context word the German had.
TRANSLATED = f"That is {SURNAME} speaking, and it is {CARD}."
# The LLM read the turns as said and repeats both without the cue or context word that found them.
ANSWER = {
    **ANALYSIS,
    "summary": [f"{SURNAME} paid the invoice with {CARD.replace(' ', '-')}.", "Prices rose in May."],
    "topic_detail": f"payment by {SURNAME}",
    "issues": [f"{SURNAME} was charged twice"],
    "agent_todo": [f"Refund {CARD.replace(' ', '')}"],
}


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    turns = [
        Segment(
            speaker=who, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
        )
        for who, text, start, end in SAID
    ]
    runtime_ = dataclasses.replace(
        runtime(settings.model_copy(update={"translation": TranslationEngine.whisper})),
        transcriber=FakeTranscriber(
            turns,
            language="de",
            speakers=STEREO,
            translation=[turns[0], turns[1].model_copy(update={"text": TRANSLATED})],
        ),
        llm=FakeLLM(lambda request: json.dumps(ANSWER)),
        redactor=PresidioRedactor(RedactionSettings()),
    )
    yield runtime_
    runtime_.db.close()


def test_what_the_turns_were_redacted_of_is_redacted_where_the_call_or_its_analysis_repeats_it(
    rt: Runtime,
) -> None:
    _, pending = process(rt, "repeated")
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="repeated")
        record = calls.to_record(call=call, keyring=rt.keyring)
        original = calls.to_record(call=call, keyring=rt.keyring, original=True)
        bearer = {
            role: {"Authorization": f"Bearer {tokens.create(session=session, name=role.value, role=role)}"}
            for role in (Role.viewer, Role.analyst)
        }
    assert record.segments[2].text == "Danke, Herr [NAME]." and record.redaction is not None
    assert record.redaction.found == {"CARD_NUMBER": 1, "NAME": 2}
    assert "[CARD_NUMBER]" in record.transcript
    shown = " ".join(
        [*record.summary, record.topic_detail or "", *record.issues, record.action_items[0].text]
    )
    assert SURNAME not in shown and "1111" not in shown and "1112" not in shown
    assert record.action_items[0].text == "Refund [CARD_NUMBER]"
    assert record.translated_transcript is not None and "is [NAME] speaking" in record.translated_transcript
    assert "[CARD_NUMBER]" in record.translated_transcript and "1112" not in record.translated_transcript
    assert record.summary == ["[NAME] paid the invoice with [CARD_NUMBER].", "Prices rose in May."]
    assert original.summary == ANSWER["summary"]  # as the LLM wrote it, for the permission
    app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(app, base_url="http://127.0.0.1") as client:  # a viewer searches the analysis only
        for headers in bearer.values():
            found = client.get("/calls", params={"q": SURNAME}, headers=headers)
            assert found.status_code == 200 and found.json()["total"] == 0
    for delivery in pending:
        deliver.run(rt, delivery)
    sent = {name: outgoing.fields["summary"] for name, outgoing in rt.crm.sent}
    assert sent["hook"] == record.summary and sent["raw"] == ANSWER["summary"]  # "raw" opted in to it


EMAIL = "ana.lopez@gmail.com"
VALID_CARD = "4111 1111 1111 1111"
SAID_IN_SPANISH = [
    (Speaker.agent, "Buenos días, ¿en qué puedo ayudarle?", 0.0, 2.0),
    (Speaker.customer, f"Mi tarjeta es {VALID_CARD} y mi correo es {EMAIL}.", 2.0, 6.0),
]
# The LLM's English, one line per turn: the card and the address as said.
LLM_LINES = ["Good morning, how can I help you?", f"My card is {VALID_CARD} and my email is {EMAIL}."]


def test_the_llms_own_translation_is_stored_and_shown_redacted(settings: Settings) -> None:
    turns = [
        Segment(
            speaker=who, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
        )
        for who, text, start, end in SAID_IN_SPANISH
    ]

    def answer(request: JSONRequest) -> str:
        return json.dumps({"lines": LLM_LINES} if request.schema_name == "translation" else ANALYSIS)

    rt = dataclasses.replace(
        runtime(settings.model_copy(update={"translation": TranslationEngine.llm})),
        transcriber=FakeTranscriber(turns, language="es", speakers=STEREO),
        llm=FakeLLM(answer),
        redactor=PresidioRedactor(RedactionSettings()),
    )
    try:
        process(rt, "translated")
        with rt.db.transaction() as session:
            call = calls.get(session=session, call_id="translated")
            record = calls.to_record(call=call, keyring=rt.keyring)
            original = calls.to_record(call=call, keyring=rt.keyring, original=True)
        app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
        with rt.db.transaction() as session:
            token = tokens.create(session=session, name="analyst", role=Role.analyst)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            shown = client.get("/calls/translated", headers={"Authorization": f"Bearer {token}"})
    finally:
        rt.db.close()
    assert record.models.translation == "llm"
    translated = record.translated_transcript or ""
    assert "[CARD_NUMBER]" in translated and "[EMAIL]" in translated, translated
    assert "1111" not in translated and "lopez" not in translated
    assert shown.status_code == 200 and shown.json()["translated_transcript"] == record.translated_transcript
    assert original.translated_transcript is not None
    assert VALID_CARD in original.translated_transcript and EMAIL in original.translated_transcript
