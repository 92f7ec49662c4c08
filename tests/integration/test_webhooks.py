"""The webhook endpoints in-process (the ASGI app, real PostgreSQL, no worker): what a call's recording URL
leaves behind, what refusals cost, and Twilio callbacks that are signed but wrong. Signatures are made by the
`standardwebhooks` and `twilio` libraries, not by our code."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from standardwebhooks.webhooks import Webhook
from structlog.testing import LogCapture
from twilio.request_validator import RequestValidator

from callsense import metrics
from callsense.api import sampled_log, webhooks
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls import service as calls
from callsense.calls.models import Call, Event
from callsense.calls.schemas import RoleSource, Segment, Speaker, SpeakerMethod, SpeakersFound
from callsense.config import Settings
from callsense.config.models import AgentSpeaks, Channel
from callsense.pipeline import erasure, fetch, tasks, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.speech.fake import FakeTranscriber
from callsense.web import accounts
from tests.conftest import AUDIO, _fresh_database, source_of
from tests.dashboard_seed import spread_words

SECRET = "whsec_" + base64.b64encode(b"callsense-test-secret-0123456789").decode()
TWILIO_TOKEN = "twilio-auth-token-for-tests"
LOCAL = "http://127.0.0.1"  # the dashboard's cookies are Secure off loopback
TWILIO_URL = f"{LOCAL}/webhooks/twilio"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    for url in _fresh_database(embedded_server_url):
        data_dir: Path = tmp_path_factory.mktemp("webhooks")
        settings = Settings(
            data_dir=data_dir,
            database_url=url,
            webhooks={"secrets": [SECRET]},
            twilio={"auth_tokens": [TWILIO_TOKEN]},
        )
        runtime = open_runtime(settings)
        with (
            runtime.db.transaction() as session
        ):  # as an external server's may be: times must not depend on it
            database = session.scalar(text("select current_database()"))
            session.execute(text(f"alter database \"{database}\" set timezone = 'America/New_York'"))
        runtime.db.engine.dispose()
        yield runtime
        runtime.db.close()


@pytest.fixture(scope="module")
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt, tasks.build_app(rt)), base_url=LOCAL, follow_redirects=False) as client:
        yield client


def signed(payload: dict[str, Any], *, msg_id: str | None = None) -> tuple[str, dict[str, str]]:
    body = json.dumps(payload)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = datetime.fromtimestamp(time.time(), tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(msg_id, timestamp, body),
        "content-type": "application/json",
    }
    return body, headers


def twilio_signed(params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, params)}


def twilio_params(**changes: str) -> dict[str, str]:
    return {
        "RecordingSid": f"RE{uuid.uuid4().hex}",
        "RecordingUrl": "https://api.twilio.example/Recordings/RE1",
        "CallSid": "CA0123456789abcdef0123456789abcdef",
        "RecordingStatus": "completed",
        "RecordingDuration": "5",
        "RecordingChannels": "1",
        **changes,
    }


def everything_stored(rt: Runtime) -> list[str | bytes]:
    """Every value of every row of every table callsense and its queue keep, as text or bytes."""
    with rt.db.transaction() as session:
        tables = session.scalars(
            text("select table_name from information_schema.tables where table_schema = 'public'")
        ).all()
        values: list[str | bytes] = []
        for table in tables:
            for row in session.execute(text(f'select * from "{table}"')):
                values.extend(value if isinstance(value, bytes) else str(value) for value in row)
    return values


def refused_events(rt: Runtime) -> int:
    with rt.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.kind == "refused")) or 0


def refusals(endpoint: str, reason: str) -> float:
    labels = {"endpoint": endpoint, "reason": reason}
    return metrics.REGISTRY.get_sample_value("callsense_webhook_refusals_total", labels) or 0.0


def test_credentials_and_query_of_a_recording_url_are_stored_nowhere_in_clear(
    rt: Runtime, client: TestClient
) -> None:
    body, headers = signed(
        {
            "call_id": "with-credentials",
            "recording_url": "https://rec-user:hunter2-webhook@recorder.example/rec/7.wav?token=qs-secret-1",
        }
    )
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 202
    params = twilio_params(
        RecordingSid="RE-with-credentials",
        RecordingUrl="https://AC-user:hunter2-twilio@api.twilio.example/Recordings/RE7?sig=qs-secret-2",
    )
    accepted = client.post("/webhooks/twilio", data=params, headers=twilio_signed(params))
    assert accepted.status_code == 202, accepted.text

    with rt.db.transaction() as session:
        admin = tokens.create(session=session, name="admin", role=Role.admin)
        accounts.create_user(session=session, username="admin", role=Role.admin, password=PASSWORD)
        shown = {row[0]: row[1] for row in session.execute(text("select call_id, source from calls"))}
    assert shown == {
        "with-credentials": "https://recorder.example/rec/7.wav",
        "RE-with-credentials": "https://api.twilio.example/Recordings/RE7",
    }
    form = client.get("/app/sign-in")
    signin_token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert signin_token is not None
    signed_in = client.post(
        "/app/sign-in",
        data={"username": "admin", "password": PASSWORD, "signin_token": signin_token[1], "next": ""},
    )
    assert signed_in.status_code == 303
    seen: list[str | bytes] = []
    for call_id in shown:
        api = client.get(f"/calls/{call_id}", headers={"Authorization": f"Bearer {admin}"})
        page = client.get(f"/app/calls/{call_id}")
        assert api.status_code == 200 and page.status_code == 200 and call_id in page.text
        seen += [api.text, page.text]

    secrets = ("hunter2-webhook", "hunter2-twilio", "qs-secret-1", "qs-secret-2", "rec-user", "AC-user")
    for value in everything_stored(rt) + seen:
        for secret in secrets:
            assert (secret.encode() if isinstance(value, bytes) else secret) not in value
    with rt.db.transaction() as session:
        call_pks = session.scalars(text("select id from calls")).all()
    sources = [source_of(rt, pk) for pk in call_pks]  # kept encrypted: fetching needs them
    assert "https://rec-user:hunter2-webhook@recorder.example/rec/7.wav?token=qs-secret-1" in sources


def forged(payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body, headers = signed(payload)
    return body, {**headers, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}


def test_badly_signed_posts_write_no_rows_and_are_counted(rt: Runtime, client: TestClient) -> None:
    before = (refused_events(rt), refusals("recording", "bad_signature"), refusals("twilio", "bad_signature"))
    for index in range(100):
        body, headers = forged({"call_id": f"forged-{index}", "recording_url": "https://recorder.example/a"})
        assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 401
        params = twilio_params()
        wrong = {"X-Twilio-Signature": base64.b64encode(b"y" * 20).decode()}
        assert client.post("/webhooks/twilio", data=params, headers=wrong).status_code == 401

    assert refused_events(rt) == before[0]
    assert refusals("recording", "bad_signature") == before[1] + 100
    assert refusals("twilio", "bad_signature") == before[2] + 100


def test_unauthenticated_refusals_log_one_line_a_minute_per_reason(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    captured = LogCapture()
    monkeypatch.setattr(webhooks, "REFUSAL_LOG", sampled_log.SampledLog(interval_s=60, clock=lambda: now[0]))
    monkeypatch.setattr(
        sampled_log,
        "log",
        structlog.wrap_logger(None, processors=[captured], wrapper_class=structlog.BoundLogger),
    )
    body, headers = forged({"call_id": "forged", "recording_url": "https://recorder.example/a"})
    for _ in range(20):
        client.post("/webhooks/recording", content=body, headers=headers)
        client.post("/webhooks/twilio", data=twilio_params())  # no signature at all
    lines = [(e["endpoint"], e["reason"], e["left_out_since"]) for e in captured.entries]
    assert lines == [("recording", "bad_signature", 0), ("twilio", "missing_header", 0)]

    now[0] += 59
    client.post("/webhooks/recording", content=body, headers=headers)
    assert len(captured.entries) == 2
    now[0] += 1  # a minute after the last line, the next refusal is logged with the number left out meanwhile
    client.post("/webhooks/recording", content=body, headers=headers)
    assert captured.entries[-1]["reason"] == "bad_signature"
    assert captured.entries[-1]["left_out_since"] == 20


@pytest.mark.parametrize("endpoint", ["recording", "twilio"])
def test_a_sender_gone_before_the_end_of_its_body_is_a_counted_refusal_not_an_error(
    client: TestClient, endpoint: str
) -> None:
    """A sender that closes the connection half way through its body (anyone can) is counted and sampled as
    a refusal, as an unauthenticated one, instead of an error with a traceback in the log each time."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"call_id": "cut', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/webhooks/{endpoint}",
        "raw_path": f"/webhooks/{endpoint}".encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    before = refusals(endpoint, "disconnected")
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert refusals(endpoint, "disconnected") == before + 1


def test_a_webhook_id_longer_than_a_receipt_holds_is_a_refused_header_not_a_database_error(
    client: TestClient,
) -> None:
    before = refusals("recording", "malformed_header")
    payload = {"call_id": "long-webhook-id", "recording_url": "https://recorder.example/r.wav"}
    body, headers = signed(payload, msg_id="m" * 201)
    refused = client.post("/webhooks/recording", content=body, headers=headers)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "malformed_header",
        "detail": "webhook-id header is over 200 characters",
        "header": "webhook-id",
    }
    assert refusals("recording", "malformed_header") == before + 1
    body, headers = signed(payload, msg_id="m" * 200)
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 202


def test_a_body_said_to_be_other_than_json_is_refused_as_an_unsupported_type(
    rt: Runtime, client: TestClient
) -> None:
    before = refusals("recording", "unsupported_media_type")
    payload = {"call_id": "plain-text", "recording_url": "https://recorder.example/r.wav"}
    body, headers = signed(payload)
    refused = client.post(
        "/webhooks/recording", content=body, headers={**headers, "content-type": "text/plain"}
    )
    assert refused.status_code == 415
    assert refused.json() == {
        "error": "unsupported_media_type",
        "detail": "the body must be JSON (Content-Type: application/json), not text/plain",
        "header": "content-type",
    }
    assert refusals("recording", "unsupported_media_type") == before + 1
    with rt.db.transaction() as session:
        assert session.scalars(select(Call).where(Call.call_id == "plain-text")).first() is None
    # No Content-Type at all is taken as JSON, as before; a charset or a +json type is JSON.
    untyped = {name: value for name, value in headers.items() if name != "content-type"}
    assert client.post("/webhooks/recording", content=body, headers=untyped).status_code == 202
    for content_type in ("application/json; charset=utf-8", "application/cloudevents+json"):
        body, headers = signed({**payload, "call_id": f"typed-{len(content_type)}"})
        typed = client.post(
            "/webhooks/recording", content=body, headers={**headers, "content-type": content_type}
        )
        assert typed.status_code == 202, typed.text


def test_a_start_time_without_an_offset_is_utc(rt: Runtime, client: TestClient) -> None:
    payload = {
        "call_id": "naive-start",
        "recording_url": "https://recorder.example/r.wav",
        "started_at": "2026-03-01T09:30:00",
    }
    body, headers = signed(payload)
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 202
    with rt.db.transaction() as session:
        started = session.scalars(select(Call.started_at).where(Call.call_id == "naive-start")).one()
    assert started == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_fields_the_notice_does_not_know_are_named_in_the_answer_and_the_log(
    rt: Runtime, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt "agent" loses the agent: the sender is told which fields were ignored (names, never the
    values), and a sender adding its own fields still gets its call in."""
    captured = LogCapture()
    logger = structlog.wrap_logger(None, processors=[captured], wrapper_class=structlog.BoundLogger)
    monkeypatch.setattr(webhooks, "log", logger)
    payload = {
        "call_id": "misspelt-agent",
        "recording_url": "https://recorder.example/r.wav",
        "agent_name": "Jane Doe",
        "queue": "billing",
    }
    body, headers = signed(payload)
    answer = client.post("/webhooks/recording", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["ignored_fields"] == ["agent_name", "queue"]
    warning = [entry for entry in captured.entries if entry["event"] == "webhook fields ignored"]
    assert [(entry["call_id"], entry["fields"]) for entry in warning] == [
        ("misspelt-agent", ["agent_name", "queue"])
    ]
    assert "Jane Doe" not in repr(captured.entries) and "billing" not in repr(captured.entries)

    body, headers = signed({"call_id": "known-fields", "recording_url": "https://recorder.example/k.wav"})
    assert client.post("/webhooks/recording", content=body, headers=headers).json()["ignored_fields"] == []
    params = twilio_params()  # a dozen fields of Twilio's own besides those read: none is a sender's typo
    twilio = client.post("/webhooks/twilio", data=params, headers=twilio_signed(params))
    assert twilio.status_code == 202 and twilio.json()["ignored_fields"] == []
    assert len([entry for entry in captured.entries if entry["event"] == "webhook fields ignored"]) == 1


RECORDING = "https://recorder.example/meta.flac"
TURNS = [
    Segment(
        speaker=speaker, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
    )
    for speaker, text, start, end in [
        (Speaker.agent, "Thanks for calling.", 0.0, 2.0),
        (Speaker.customer, "I was charged twice.", 2.5, 4.0),
    ]
]
STEREO = SpeakersFound(method=SpeakerMethod.channels, count=2, agent="left", agent_source="settings")
VOICES = SpeakersFound(
    method=SpeakerMethod.diarization, count=2, agent="speaker 1", agent_source="conversation"
)


@pytest.mark.parametrize(
    ("found", "metadata", "channel", "speaks", "agent", "source", "note"),
    [
        (
            STEREO,
            {"agent_channel": "right"},
            Channel.right,
            None,
            "right",
            RoleSource.metadata,
            "agent channel right from the call's metadata",
        ),
        (
            VOICES,
            {"agent_speaks": "second", "queue": "outbound"},
            None,
            AgentSpeaks.second,
            "speaker 2",
            RoleSource.metadata,
            "agent speaker 2, the second voice to say a word, from the call's metadata",
        ),
        (  # not refused: the call is taken, its agent left to the setting, and the trail says why
            STEREO,
            {"agent_channel": "middle"},
            None,
            None,
            "left",
            RoleSource.settings,
            "metadata agent_channel='middle' ignored: expected 'left' or 'right'",
        ),
    ],
)
def test_a_webhooks_metadata_names_the_calls_agent(
    rt: Runtime,
    client: TestClient,
    found: SpeakersFound,
    metadata: dict[str, str],
    channel: Channel | None,
    speaks: AgentSpeaks | None,
    agent: str,
    source: RoleSource,
    note: str,
) -> None:
    """The metadata of a signed notice reaches the transcription of its call, whose record and audit trail
    name the agent it says (docs/speakers.md), on a stereo call by channel and on a mono one by voice."""
    call_id = f"meta-{uuid.uuid4().hex[:8]}"
    body, headers = signed({"call_id": call_id, "recording_url": RECORDING, "metadata": metadata})
    answer = client.post("/webhooks/recording", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["ignored_fields"] == []
    transcriber = FakeTranscriber(TURNS, speakers=found)
    faked = dataclasses.replace(
        rt,
        recordings=FakeRecordings({RECORDING: (AUDIO / "en_short.mono.flac").read_bytes()}),
        transcriber=transcriber,
        llm=FakeLLM([]),
    )
    with rt.db.transaction() as session:
        call_pk = calls.get(session=session, call_id=call_id).id
    assert fetch.run(faked, call_pk, local_files=False) == "transcribe"
    assert transcribe.run(faked, call_pk) == "analyse"
    assert (transcriber.agent_channels, transcriber.agent_speaks) == ([channel], [speaks])
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id=call_id)
        speakers = calls.to_record(call=call, keyring=rt.keyring).speakers
        notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
    assert speakers is not None and (speakers.method, speakers.agent) == (found.method, agent)
    assert speakers.agent_source is source
    assert notes == [note]


def test_metadata_that_is_not_an_object_is_refused(rt: Runtime, client: TestClient) -> None:
    before = refused_events(rt)
    body, headers = signed(
        {"call_id": "meta-text", "recording_url": RECORDING, "metadata": "agent_channel=right"}
    )
    refused = client.post("/webhooks/recording", content=body, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_payload", refused.text
    assert refused.json()["detail"].startswith("metadata: ")
    assert refused_events(rt) == before + 1
    with rt.db.transaction() as session:
        assert session.scalar(text("select count(*) from calls where call_id = 'meta-text'")) == 0


def test_a_signed_value_postgresql_cannot_hold_is_an_audited_refusal(rt: Runtime, client: TestClient) -> None:
    before = refused_events(rt)
    payload = {
        "call_id": "nul-agent",
        "recording_url": "https://recorder.example/r.wav",
        "agent": "Ma\x00ria",
    }
    body, headers = signed(payload)
    refused = client.post("/webhooks/recording", content=body, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_payload"
    assert "NUL" in refused.json()["detail"]
    assert refused_events(rt) == before + 1


def test_refusals_of_signed_requests_are_audited(rt: Runtime, client: TestClient) -> None:
    before = refused_events(rt)
    body, headers = signed({"call_id": "replayed", "recording_url": "https://recorder.example/r.wav"})
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 202
    body, headers = signed(
        {"call_id": "another", "recording_url": "https://recorder.example/r.wav"},
        msg_id=headers["webhook-id"],
    )
    replay = client.post("/webhooks/recording", content=body, headers=headers)
    assert replay.status_code == 409 and replay.json()["error"] == "replay"
    body, headers = signed({"call_id": "../etc", "recording_url": "https://recorder.example/r.wav"})
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 422

    with rt.db.transaction() as session:
        details = session.scalars(
            select(Event.detail).where(Event.kind == "refused").order_by(Event.id).offset(before)
        ).all()
    assert [detail.split(":")[0] for detail in details if detail] == ["replay", "invalid_payload"]


def test_the_senders_retry_of_a_message_it_got_no_answer_to_is_a_duplicate_not_a_replay(
    rt: Runtime, client: TestClient
) -> None:
    """Standard Webhooks senders retry with the same webhook-id when the answer was lost (a timeout, a 503
    after the commit): a 409 there would count as a failed delivery, and mark the endpoint failing."""
    payload = {"call_id": "answer-lost", "recording_url": "https://recorder.example/r.wav"}
    body, headers = signed(payload)
    first = client.post("/webhooks/recording", content=body, headers=headers)
    body, headers = signed(payload, msg_id=headers["webhook-id"])  # fresh timestamp and signature
    retried = client.post("/webhooks/recording", content=body, headers=headers)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert retried.status_code == 202, retried.text
    assert retried.json() == {**first.json(), "duplicate": True}
    with rt.db.transaction() as session:
        assert session.scalar(text("select count(*) from calls where call_id = 'answer-lost'")) == 1


def test_a_signed_twilio_callback_with_a_bad_recording_url_is_refused_not_an_error(
    rt: Runtime, client: TestClient
) -> None:
    before = refused_events(rt)
    params = twilio_params(RecordingSid="RE-bad-url", RecordingUrl="not a url")
    response = client.post("/webhooks/twilio", data=params, headers=twilio_signed(params))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_payload" and "recording_url" in response.json()["detail"]
    assert refused_events(rt) == before + 1  # it was signed: audited
    with rt.db.transaction() as session:
        assert session.scalar(text("select count(*) from calls where call_id = 'RE-bad-url'")) == 0


def test_concurrent_first_notices_of_one_call_register_it_once(rt: Runtime) -> None:
    """Recorders retry quickly: notices of a new call that race each other all succeed, one creates it."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from callsense.calls.models import Call
    from callsense.pipeline.ingest import ingest

    call_id = f"race-{uuid.uuid4().hex[:8]}"
    barrier = Barrier(6)

    def notice(_: int) -> bool:
        barrier.wait()
        return ingest(rt, call_id=call_id, source="https://recorder.example/r.wav").created

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(notice, range(6)))
    assert sorted(created) == [False] * 5 + [True]
    with rt.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Call).where(Call.call_id == call_id)) == 1


def test_a_recording_announced_again_after_its_call_was_erased_is_refused(
    rt: Runtime, client: TestClient
) -> None:
    before = refused_events(rt)
    body, headers = signed({"call_id": "erased-call", "recording_url": "https://recorder.example/r.wav"})
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 202
    erasure.erase(rt, call_id="erased-call", actor="test", reason="ticket 7", via="api")
    body, headers = signed({"call_id": "erased-call", "recording_url": "https://recorder.example/r.wav"})
    again = client.post("/webhooks/recording", content=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "erased", again.text
    params = twilio_params(RecordingSid="erased-call")  # Twilio's retries, after an erasure
    assert client.post("/webhooks/recording", content=body, headers=headers).status_code == 409
    assert client.post(TWILIO_URL, data=params, headers=twilio_signed(params)).status_code == 409
    with rt.db.transaction() as session:
        assert session.scalars(select(Call).where(Call.call_id == "erased-call")).all() == []
    assert refused_events(rt) == before + 3
