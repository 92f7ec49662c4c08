"""Asking about a call through the API, the dashboard and the command line, on real PostgreSQL with the
seeded demo calls (their transcripts are the fixtures' reference turns). The LLM is scripted: the fake in
process, a loopback OpenAI-compatible stub for the command line. One test asks the bundled model."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from callsense.assets.catalog import resolve_gguf
from callsense.backends.llm.base import JSONRequest
from callsense.backends.llm.embedded import EmbeddedLLM, EmbeddedOptions
from callsense.backends.llm.fake import FakeLLM
from callsense.calls import service as calls
from callsense.calls.models import Call, Event
from callsense.calls.schemas import CallStatus, Segment, Speaker
from callsense.cli.main import app as cli
from callsense.config import Settings
from callsense.errors import LLMUnavailableError, NoTranscriptError
from callsense.pipeline import tasks
from callsense.pipeline.ask import NOT_SUPPORTED, answer_question, ask_about_call
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.conftest import _fresh_database
from tests.dashboard_seed import seed
from tests.llm_stub import openai_answering

PASSWORD = "correct horse battery"
LOCAL = "http://127.0.0.1"
QUESTION = "Did the agent offer a refund?"
REFUND = 6  # "I have issued a full refund of $49. You will see it on your card in three to five days."
GROUNDED = json.dumps(
    {
        "quotes": [
            {"turn": REFUND, "text": "I have issued a full refund of $49."},
            {"turn": 1, "text": "I was promised a free phone"},  # not said on the call
        ],
        "answer": "Yes, a full refund of $49.",
    }
)
INVENTED = json.dumps({"quotes": [{"turn": 2, "text": "we never give refunds"}], "answer": "No."})


def scripted(request: JSONRequest) -> str:
    if "throttled" in request.user:  # as the HTTP back-ends raise a 429 with "Retry-After: 120"
        raise LLMUnavailableError("openai server answered HTTP 429: rate limit reached", retry_after=120)
    return INVENTED if "invented" in request.user else GROUNDED


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ask")


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, data_dir: Path) -> Iterator[Runtime]:
    for url in _fresh_database(embedded_server_url):
        runtime = open_runtime(Settings(data_dir=data_dir, database_url=url))
        seed(runtime)
        with runtime.db.transaction() as session:
            for role in Role:
                accounts.create_user(session=session, username=role.value, role=role, password=PASSWORD)
        yield replace(runtime, llm=FakeLLM(scripted))
        runtime.db.close()


def _new_call(rt: Runtime, session: Session, call_id: str) -> Call:
    call, _ = calls.get_or_create(
        session=session,
        keyring=rt.keyring,
        call_id=call_id,
        source=f"/{call_id}.wav",
        shown_source=f"{call_id}.wav",
        details=calls.CallDetails(),
    )
    return call


@pytest.fixture(scope="module")
def no_speech(rt: Runtime) -> str:
    """A call whose recognised text is only non-speech markers, as the transcribe stage leaves it:
    ``no_speech``, with turns that hold no word."""
    call_id, marks = "demo-no-speech", [(Speaker.agent, "[inaudible]"), (Speaker.customer, "(music) ♪")]
    with rt.db.transaction() as session:
        call = _new_call(rt, session, call_id)
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=[
                Segment(speaker=who, start=2.0 * turn, end=2.0 * turn + 1, text=text, confidence=0.3)
                for turn, (who, text) in enumerate(marks)
            ],
            translated=None,
            translation_engine=None,
            asr_model="base",
            options={},
        )
        calls.set_status(session=session, call=call, status=CallStatus.no_speech)
    return call_id


def _llm_requests(rt: Runtime) -> int:
    return len(rt.llm.requests)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def app(rt: Runtime) -> Iterator[object]:
    application = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(application, base_url=LOCAL):
        yield application


def _client(app: object) -> TestClient:
    return TestClient(app, base_url=LOCAL, follow_redirects=False)  # type: ignore[arg-type]


def _events(rt: Runtime, call_id: str, kind: str = "asked") -> list[Event]:
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id=call_id)
        return [event for event in calls.events(session=session, call_pk=call.id) if event.kind == kind]


@pytest.fixture(scope="module")
def bearer(rt: Runtime) -> dict[Role, dict[str, str]]:
    """The Authorization header of an API token per role, named "api-<role>"."""
    with rt.db.transaction() as session:
        made = {role: tokens.create(session=session, name=f"api-{role.value}", role=role) for role in Role}
    return {role: {"Authorization": f"Bearer {token}"} for role, token in made.items()}


# --- the API ----------------------------------------------------------------------------------------------


def test_an_analyst_asks_through_the_api_and_gets_checked_quotes_and_the_question_is_audited(
    app: object, rt: Runtime, bearer: dict[Role, dict[str, str]]
) -> None:
    headers = bearer[Role.analyst]
    with structlog.testing.capture_logs() as logs:
        response = _client(app).post("/calls/demo-refund/ask", json={"question": QUESTION}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["supported"] is True and body["answer"] == "Yes, a full refund of $49."
    assert body["supporting_turns"] == [
        {"turn": REFUND, "start": 25.598, "speaker": "agent", "quote": "I have issued a full refund of $49"}
    ]
    assert body["dropped_quotes"] == 1  # the free phone was never mentioned
    (event,) = _events(rt, "demo-refund")
    assert (event.stage, event.actor, event.detail) == ("api", "api-analyst", None)
    assert QUESTION not in repr(logs) and "refund of $49" not in repr(logs)  # neither asked nor answered


def test_an_llm_server_asking_for_a_wait_is_waited_for_by_the_api_client(
    app: object, bearer: dict[Role, dict[str, str]]
) -> None:
    question = {"question": "Is the server throttled?"}
    response = _client(app).post("/calls/demo-bill-de/ask", json=question, headers=bearer[Role.analyst])
    assert response.status_code == 503 and "HTTP 429" in response.json()["detail"]
    assert response.headers["retry-after"] == "120"  # not our own 10 s: asked sooner, it refuses again


def test_an_answer_without_a_quote_in_the_transcript_is_not_shown(
    app: object, bearer: dict[Role, dict[str, str]]
) -> None:
    response = _client(app).post(
        "/calls/demo-refund/ask",
        json={"question": "An invented policy?"},
        headers=bearer[Role.admin],
    )
    assert response.json() == {
        "answer": NOT_SUPPORTED,
        "supported": False,
        "supporting_turns": [],
        "dropped_quotes": 1,
        "parts": 1,
    }


def test_a_viewer_may_not_ask_and_nothing_is_audited(
    app: object, rt: Runtime, bearer: dict[Role, dict[str, str]]
) -> None:
    client = _client(app)
    refused = client.post("/calls/demo-outage/ask", json={"question": QUESTION}, headers=bearer[Role.viewer])
    assert refused.status_code == 403
    assert client.post("/calls/demo-outage/ask", json={"question": QUESTION}).status_code == 401
    assert _events(rt, "demo-outage") == []


def test_bad_questions_and_unknown_calls_are_refused(app: object, bearer: dict[Role, dict[str, str]]) -> None:
    client, headers = _client(app), bearer[Role.admin]
    for question in ["", "   ", "x" * 301]:
        response = client.post("/calls/demo-outage/ask", json={"question": question}, headers=headers)
        assert response.status_code == 422, question
    missing = client.post("/calls/no-such-call/ask", json={"question": QUESTION}, headers=headers)
    assert missing.status_code == 404


def test_a_call_without_speech_is_answered_without_the_llm_and_the_asking_is_audited(
    app: object, rt: Runtime, bearer: dict[Role, dict[str, str]], no_speech: str
) -> None:
    """Only markers such as "[inaudible]" were recognised: the model, asked, would answer from nothing."""
    asked_before = _llm_requests(rt)
    response = _client(app).post(
        f"/calls/{no_speech}/ask", json={"question": QUESTION}, headers=bearer[Role.analyst]
    )
    said = _nobody_speaks(no_speech)
    assert (response.status_code, response.json()) == (404, {"detail": said})
    assert _llm_requests(rt) == asked_before
    asked = [event for event in _events(rt, no_speech) if event.stage == "api"]
    assert [(event.actor, event.detail) for event in asked] == [("api-analyst", said)]


def _nobody_speaks(call_id: str) -> str:
    return f"call '{call_id}' has no transcript to ask about: nobody speaks in its recording"


def test_a_question_with_a_key_it_does_not_declare_is_refused_naming_the_key(
    app: object, rt: Runtime, bearer: dict[Role, dict[str, str]]
) -> None:
    """A misspelt key is not dropped: the question would be asked without what the caller meant."""
    asked, asked_before = len(_events(rt, "demo-refund")), _llm_requests(rt)
    refused = _client(app).post(
        "/calls/demo-refund/ask",
        json={"question": QUESTION, "sensitiv": True},
        headers=bearer[Role.analyst],
    )
    assert refused.status_code == 422
    assert [(issue["loc"], issue["type"]) for issue in refused.json()["detail"]] == [
        (["body", "sensitiv"], "extra_forbidden")
    ]
    assert len(_events(rt, "demo-refund")) == asked and _llm_requests(rt) == asked_before


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_question_that_is_not_json_is_an_unsupported_type(
    app: object, rt: Runtime, bearer: dict[Role, dict[str, str]], content_type: str | None
) -> None:
    """What FastAPI would validate as bytes, with a 422 that does not name the type."""
    headers = {**bearer[Role.analyst], **({"Content-Type": content_type} if content_type else {})}
    sent, asked = json.dumps({"question": QUESTION}), len(_events(rt, "demo-refund"))
    refused = _client(app).post("/calls/demo-refund/ask", content=sent, headers=headers)
    assert refused.status_code == 415
    assert refused.json() == {
        "detail": f"the body must be JSON (Content-Type: application/json), not {content_type or 'untyped'}"
    }
    assert len(_events(rt, "demo-refund")) == asked
    typed = {**bearer[Role.analyst], "Content-Type": "application/json; charset=utf-8"}
    assert _client(app).post("/calls/demo-refund/ask", content=sent, headers=typed).status_code == 200


def test_the_openapi_document_describes_the_question_and_the_answer(app: object) -> None:
    document = _client(app).get("/openapi.json").json()
    operation = document["paths"]["/calls/{call_id}/ask"]["post"]
    assert "415" in operation["responses"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Question")
    answer = document["components"]["schemas"]["CallAnswer"]
    assert set(answer["properties"]) == {"answer", "supported", "supporting_turns", "dropped_quotes", "parts"}
    assert document["components"]["schemas"]["Question"]["properties"]["question"]["maxLength"] == 300


# --- the dashboard ----------------------------------------------------------------------------------------


def _signed_in(app: object, username: str) -> tuple[TestClient, str]:
    client = _client(app)
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app/calls").text)
    assert csrf is not None
    return client, csrf[1]


def test_the_call_page_box_answers_with_turns_that_seek_the_player(app: object, rt: Runtime) -> None:
    client, csrf = _signed_in(app, "analyst")
    page = client.get("/app/calls/demo-refund", headers={"Sec-Fetch-Site": "same-origin"})
    assert 'hx-post="/app/calls/demo-refund/ask"' in page.text and 'id="ask-question"' in page.text
    refused = client.post("/app/calls/demo-refund/ask", data={"question": QUESTION})
    assert refused.status_code == 403  # no CSRF token
    empty = client.post("/app/calls/demo-refund/ask", data={"question": "  ", "csrf_token": csrf})
    assert empty.status_code == 200 and "Write a question of 1 to 300 characters." in empty.text
    answer = client.post(
        "/app/calls/demo-refund/ask",
        data={"question": QUESTION, "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert 'class="turn-seek" data-start="25.598"' in answer.text
    assert '<q dir="auto" lang="en">I have issued a full refund of $49</q>' in answer.text  # read as English
    assert (
        "free phone" not in answer.text and "1 quote the model gave was not in the transcript" in answer.text
    )
    with rt.db.transaction() as session:
        call = session.scalars(select(Call).where(Call.call_id == "demo-refund")).one()
        actors = [e.actor for e in calls.events(session=session, call_pk=call.id) if e.stage == "web"]
    assert "user:analyst" in actors
    page = client.get("/app/calls/demo-refund", headers={"Sec-Fetch-Site": "same-origin"})
    assert "asked by user:analyst" in page.text  # in the access log


def test_the_call_page_box_says_a_call_without_speech_has_nothing_to_ask_about(
    app: object, rt: Runtime, no_speech: str
) -> None:
    client, csrf = _signed_in(app, "admin")
    asked_before = _llm_requests(rt)
    answer = client.post(f"/app/calls/{no_speech}/ask", data={"question": QUESTION, "csrf_token": csrf})
    assert answer.status_code == 200
    assert "No speech was recognised. Questions need a transcript." in answer.text
    assert _llm_requests(rt) == asked_before
    assert [event.actor for event in _events(rt, no_speech) if event.stage == "web"] == ["user:admin"]


def test_a_viewer_has_no_box_and_cannot_post_a_question(app: object, rt: Runtime) -> None:
    client, csrf = _signed_in(app, "viewer")
    page = client.get("/app/calls/demo-outage", headers={"Sec-Fetch-Site": "same-origin"})
    assert page.status_code == 200 and "ask-question" not in page.text
    refused = client.post("/app/calls/demo-outage/ask", data={"question": QUESTION, "csrf_token": csrf})
    assert refused.status_code == 403 and "analyst role" in refused.text
    assert _events(rt, "demo-outage") == []


# --- the command line -------------------------------------------------------------------------------------


def test_the_command_line_says_a_call_without_speech_has_nothing_to_ask_about(
    rt: Runtime, data_dir: Path, no_speech: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the LLM: its address here is a closed port, which would fail the command as retryable."""
    for name, value in {
        "CALLSENSE_DATA_DIR": str(data_dir),
        "CALLSENSE_DATABASE_URL": rt.settings.database_url,
        "CALLSENSE_LLM__BACKEND": "openai",
        "CALLSENSE_LLM__BASE_URL": "http://127.0.0.1:9/v1",
    }.items():
        monkeypatch.setenv(name, value)
    refused = CliRunner().invoke(cli, ["ask", no_speech, QUESTION])
    said = _nobody_speaks(no_speech)
    assert refused.exit_code == 1 and f"error: {said}" in " ".join(refused.output.split())
    asked = [event for event in _events(rt, no_speech) if event.stage == "cli"]
    assert [(event.actor, event.detail) for event in asked] == [(f"cli:{getpass.getuser()}", said)]


def test_the_command_line_prints_the_answer_and_the_supporting_turns(
    rt: Runtime, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with openai_answering(GROUNDED) as llm_url:
        for name, value in {
            "CALLSENSE_DATA_DIR": str(data_dir),
            "CALLSENSE_DATABASE_URL": rt.settings.database_url,
            "CALLSENSE_LLM__BACKEND": "openai",
            "CALLSENSE_LLM__BASE_URL": llm_url,
        }.items():
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        as_json = runner.invoke(cli, ["ask", "demo-cancel-es", QUESTION, "--json"])
        shown = runner.invoke(cli, ["ask", "demo-refund", QUESTION])
        too_long = runner.invoke(cli, ["ask", "demo-refund", "x" * 301])
    assert as_json.exit_code == 0, as_json.output
    # The stub cites the refund call's turn 6; the Spanish call's turn 6 says something else.
    assert json.loads(as_json.stdout)["supported"] is False
    assert shown.exit_code == 0, shown.output
    assert "Yes, a full refund of $49." in shown.stdout
    assert re.search(r"6\s*│\s*0:25\s*│\s*agent\s*│\s*I have issued a full refund of \$49", shown.stdout)
    assert too_long.exit_code == 1 and "1 to 300 characters" in too_long.output
    assert [event.actor for event in _events(rt, "demo-cancel-es")] == [f"cli:{getpass.getuser()}"]


@pytest.mark.parametrize(
    ("status", "detail", "why"),
    [
        (
            "failed",
            "fetch: the file holds text instead of audio",
            "it failed (fetch: the file holds text instead of audio); process it again once that is mended",
        ),
        ("received", None, "it is not transcribed yet (status received); ask again when it is done"),
        ("no_speech", None, "nobody speaks in its recording"),
    ],
)
def test_asking_about_a_call_without_words_says_why(
    rt: Runtime, status: str, detail: str | None, why: str
) -> None:
    """It said "this call has no transcript to ask about", the same for a failed call, one still in the queue
    and a silent one."""
    call_id = f"wordless-{status}"
    with rt.db.transaction() as session:
        call = _new_call(rt, session, call_id)
        calls.set_status(session=session, call=call, status=CallStatus(status), detail=detail)
    with pytest.raises(NoTranscriptError) as refused:
        ask_about_call(rt, call_id=call_id, question=QUESTION, actor="cli:test", via="cli")
    assert str(refused.value) == f"call '{call_id}' has no transcript to ask about: {why}"


# --- the bundled model ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_bundled_model_answers_with_a_turn_of_the_call(rt: Runtime, model_dir: Path) -> None:
    """One real question (about 20-80 s on 2 cores): the answer cites an existing turn, quoted verbatim."""
    gguf = resolve_gguf("qwen2.5-coder-1.5b", model_dir)
    llm = EmbeddedLLM(EmbeddedOptions(gguf=gguf, context_tokens=4096), model="qwen2.5-coder-1.5b")
    with rt.db.transaction() as session:
        segments = calls.read_segments(
            call=calls.get(session=session, call_id="demo-refund"), keyring=rt.keyring
        )
    result = answer_question(segments=segments, question=QUESTION, llm=llm)
    assert result.supported and result.supporting_turns
    for turn in result.supporting_turns:
        assert turn.quote in segments[turn.turn].text and turn.start == segments[turn.turn].start
    assert REFUND in [turn.turn for turn in result.supporting_turns]
