"""The deliver stage on a real PostgreSQL: the outbox written with the analysis, retries and dead letters, the
signed webhook checked by the independent ``standardwebhooks`` library, the queue's reconciler, the CLI and
the API. CRMs are the loopback stand-ins of ``tests/crm_fakes.py``; nothing here sleeps: the waits between
tries are the job queue's, and the tests read them from the errors instead."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from standardwebhooks.webhooks import Webhook

from callsense import metrics
from callsense.backends.crm.base import Outgoing
from callsense.backends.llm.fake import FakeLLM
from callsense.calls import service as calls
from callsense.calls.models import Call, Delivery
from callsense.calls.schemas import Speaker
from callsense.config import Settings
from callsense.errors import CRMUnavailableError
from callsense.pipeline import analyse, deliver, queue_figures, tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from tests.crm_calls import ANALYSIS, TRANSCRIPT, analysed_call, cli, cli_env
from tests.crm_fakes import FakeHubSpot, Reply, serving
from tests.servers import CALLSENSE

SECRET = "whsec_" + base64.b64encode(b"callsense-delivery-test-secret-01").decode()
PHONE = "+14155550100"


def hubspot(url: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "hubspot", "kind": "hubspot", "base_url": url, "token": "pat-hubspot", **overrides}


def with_destinations(settings: Settings, *destinations: dict[str, Any]) -> Settings:
    deliveries = {"destinations": list(destinations), "retry_initial_s": 10, "retry_max_s": 600}
    return Settings.model_validate({**settings.model_dump(), "deliveries": deliveries})


@pytest.fixture
def crm() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot({"501": PHONE})
    with serving(fake) as url:
        yield fake, url


@pytest.fixture
def rt(settings: Settings, crm: tuple[FakeHubSpot, str]) -> Iterator[Runtime]:
    runtime = open_runtime(with_destinations(settings, hubspot(crm[1])))
    yield runtime
    runtime.db.close()


def rows(rt: Runtime) -> list[Delivery]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.destination)))


def attempt(rt: Runtime, delivery_id: uuid.UUID) -> float | None:
    """One try; the wait the queue would honour before the next one, or None when none is needed."""
    try:
        deliver.run(rt, delivery_id)
    except CRMUnavailableError as exc:
        return exc.retry_after
    return None


def test_the_outbox_is_written_with_the_analysis_once_per_enabled_destination(settings: Settings) -> None:
    configured = with_destinations(
        settings,
        hubspot("http://127.0.0.1:9"),
        {"name": "audit-hook", "kind": "webhook", "base_url": "http://127.0.0.1:9/hook", "secret": SECRET},
        hubspot("http://127.0.0.1:9", name="old-crm", enabled=False),
    )
    runtime = open_runtime(configured)
    try:
        call_pk = analysed_call(runtime, "outbox-1")
        analyse.run(runtime, call_pk, force=True)  # re-analysed: no second delivery
        found = [(row.destination, row.status, row.attempts) for row in rows(runtime)]
    finally:
        runtime.db.close()
    assert found == [("audit-hook", "pending", 0), ("hubspot", "pending", 0)]


def test_crm_down_for_a_while_then_back_is_delivered_once(rt: Runtime, crm: tuple[FakeHubSpot, str]) -> None:
    fake, _ = crm
    fake.fail_next = [
        Reply(503, {"message": "down"}),
        Reply(502, {"message": "bad gateway"}),
        Reply(429, {"message": "You have reached your secondly limit."}, {"Retry-After": "60"}),
    ]
    analysed_call(rt, "flaky-crm")
    [row] = rows(rt)
    waits = [attempt(rt, row.id) for _ in range(4)]
    assert waits[3] is None  # delivered on the fourth try
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20  # exponential backoff with jitter, from the settings
    assert waits[2] == 60  # the CRM's Retry-After, longer than the backoff (20-40 s): honoured
    [done] = rows(rt)
    assert done.status == "delivered" and done.attempts == 4 and done.last_error is None
    assert len(fake.records) == 1 and done.external_id in fake.records


def test_a_short_retry_after_never_shortens_the_backoff(rt: Runtime, crm: tuple[FakeHubSpot, str]) -> None:
    # Tried every second until max_age_h (24 h) otherwise, against a CRM that is down for hours.
    fake, _ = crm
    fake.fail_next = [Reply(503, {"message": "down"}, {"Retry-After": "1"})] * 4
    analysed_call(rt, "insistent-crm")
    [row] = rows(rt)
    waits = [attempt(rt, row.id) for _ in range(4)]
    lows = [5, 10, 20, 40]  # retry_initial_s 10, doubling, equal jitter: between half and all of it
    assert all(wait is not None and low <= wait <= 2 * low for wait, low in zip(waits, lows, strict=True))


def test_retries_stop_at_the_destinations_max_age(rt: Runtime, crm: tuple[FakeHubSpot, str]) -> None:
    fake, _ = crm
    analysed_call(rt, "long-outage")
    [row] = rows(rt)
    with rt.db.transaction() as session:  # the CRM has been failing for a day already
        session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(queued_at=datetime.now(UTC) - timedelta(hours=25))
        )
    fake.fail_next = [Reply(503, {"message": "still down"})]
    assert attempt(rt, row.id) is None
    [dead] = rows(rt)
    assert dead.status == "dead" and dead.response_status == 503
    assert dead.last_error is not None and dead.last_error.startswith("gave up after 1 attempts")
    assert dead.last_error.endswith(": HTTP 503")


def test_a_worker_whose_clock_runs_a_day_ahead_does_not_give_up_at_once(
    rt: Runtime, crm: tuple[FakeHubSpot, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The age that ends the retries is measured on one clock, the database's: a deliver worker on a machine
    whose clock is off must not dead-letter a delivery queued a moment ago on the first 503."""
    fake, _ = crm
    analysed_call(rt, "skewed-clock")
    [row] = rows(rt)
    monkeypatch.setattr(deliver, "utcnow", lambda: datetime.now(UTC) + timedelta(hours=25))
    fake.fail_next = [Reply(503, {"message": "down for a moment"})]
    assert attempt(rt, row.id) is not None  # a wait: tried again later
    assert rows(rt)[0].status == "pending"


def test_a_refused_delivery_is_dead_lettered_listed_and_retried_through_cli_and_api(
    rt: Runtime, crm: tuple[FakeHubSpot, str]
) -> None:
    fake, _ = crm
    fake.fail_next = [FakeHubSpot.invalid_property("hs_call_body", "INVALID_STRING", "too long")]
    analysed_call(rt, "refused-1")
    [row] = rows(rt)
    assert attempt(rt, row.id) is None  # a 400 is not retried
    assert rows(rt)[0].status == "dead"

    listing = cli(rt.settings, "deliveries", "list", "--status", "dead")
    assert listing.returncode == 0, listing.stderr
    assert "refused-1" in listing.stdout and "hs_call_body" in listing.stdout and "400" in listing.stdout

    with rt.db.transaction() as session:
        admin = tokens.create(session=session, name="ops", role=Role.admin)
        viewer = tokens.create(session=session, name="look", role=Role.viewer)
    with TestClient(create_app(rt, tasks.build_app(rt))) as client:
        assert client.get("/deliveries", headers=bearer(viewer)).status_code == 403
        page = client.get("/deliveries", params={"status": "dead"}, headers=bearer(admin)).json()
        [item] = page["items"]
        assert page["total"] == 1
        beyond = {"status": "dead", "offset": 1}  # a page past the end still says how many there are
        assert client.get("/deliveries", params=beyond, headers=bearer(admin)).json()["total"] == 1
        delivered = {"status": "delivered"}
        assert client.get("/deliveries", params=delivered, headers=bearer(admin)).json()["total"] == 0
        assert item["id"] == str(row.id) and "hs_call_body" in item["last_error"]
        retried = client.post(f"/deliveries/{row.id}/retry", headers=bearer(admin))
        assert retried.status_code == 202 and retried.json()["status"] == "pending"
        assert client.post(f"/deliveries/{uuid.uuid4()}/retry", headers=bearer(admin)).status_code == 404
        nothing_dead = client.post("/deliveries/retry-all", headers=bearer(admin))
        assert nothing_dead.status_code == 202 and nothing_dead.json() == {"queued": []}
        # A misspelt destination is refused naming the configured ones, where it listed and queued nothing.
        unknown = {"detail": "no destination named 'hubspots' is configured (destinations: hubspot)"}
        for method, path in (("GET", "/deliveries"), ("POST", "/deliveries/retry-all")):
            mistyped = client.request(method, path, params={"destination": "hubspots"}, headers=bearer(admin))
            assert (mistyped.status_code, mistyped.json()) == (422, unknown), path
    assert (
        'callsense_outbox{destination="hubspot",status="pending"} 1.0'
        in metrics.render(
            rt.db, queue=queue_figures, blob_dir=rt.settings.resolved_blob_dir, categories_stale=0
        ).decode()
    )
    assert queued(rt) == [str(row.id)]
    assert attempt(rt, row.id) is None
    assert rows(rt)[0].status == "delivered" and len(fake.records) == 1
    with rt.db.transaction() as session:  # the call's audit trail tells the story
        trail = [
            (e.kind, e.actor)
            for e in calls.events(session=session, call_pk=row.call_pk)
            if e.stage == "deliver"
        ]
    assert trail == [("dead", None), ("retry", "ops"), ("delivered", None)]

    result = cli(rt.settings, "deliveries", "retry-all")
    assert result.returncode == 0 and "queued 0 deliveries" in result.stdout
    for command in ("retry-all", "list"):
        mistyped = cli(rt.settings, "deliveries", command, "--destination", "crm-typo")
        assert mistyped.returncode == 1 and "no destination named 'crm-typo'" in mistyped.stderr, command


def test_a_crm_that_answers_200_with_an_error_body_dead_letters_with_the_reason(
    rt: Runtime, crm: tuple[FakeHubSpot, str]
) -> None:
    """A gateway or a misconfigured base URL that says 200 but files nothing: not a crash that leaves the
    delivery pending with no reason (retried blindly by the queue), but a dead letter the admin can read."""
    fake, _ = crm
    error = FakeHubSpot.error(400, "Rate limited by gateway", "VALIDATION_ERROR").body
    fake.fail_next = [Reply(200, {"total": 0, "results": []})] * 2 + [Reply(200, error)]
    analysed_call(rt, "ok-but-not")
    [row] = rows(rt)
    assert attempt(rt, row.id) is None
    [dead] = rows(rt)
    assert dead.status == "dead" and dead.response_status == 200
    assert dead.last_error is not None and dead.last_error.endswith(
        "HTTP 200 VALIDATION_ERROR: the answer names no record"
    )
    assert fake.records == {}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def queued(rt: Runtime) -> list[str]:
    with rt.db.transaction() as session:
        found = session.execute(
            text("select args->>'delivery_id' from procrastinate_jobs where queue_name = 'deliver'")
        )
        return [row[0] for row in found]


def test_the_reconciler_queues_pending_deliveries_that_have_no_job(rt: Runtime) -> None:
    analysed_call(rt, "orphaned")  # the analyse job died before deferring the delivery
    app = tasks.build_app(rt)
    with app.open():
        assert tasks.reconcile_deliveries(rt, app) == 1
        assert tasks.reconcile_deliveries(rt, app) == 0
    assert queued(rt) == [str(rows(rt)[0].id)]


def test_a_removed_destination_dead_letters_its_deliveries(settings: Settings, rt: Runtime) -> None:
    analysed_call(rt, "orphan-destination")
    [row] = rows(rt)
    renamed = open_runtime(with_destinations(settings, hubspot("http://127.0.0.1:9", name="hubspot-eu")))
    try:
        assert attempt(renamed, row.id) is None
    finally:
        renamed.db.close()
    [dead] = rows(rt)
    assert dead.status == "dead" and dead.last_error == "destination 'hubspot' is no longer configured"


def test_the_queue_honours_the_wait_the_stage_asks_for() -> None:
    strategy = tasks.deliver.retry_strategy
    assert strategy is not None

    class Job:
        attempts = 3

    before = datetime.now(UTC)
    decision = strategy.get_retry_decision(exception=CRMUnavailableError("429", retry_after=42), job=Job())  # type: ignore[arg-type]
    after = datetime.now(UTC)
    assert decision is not None and decision.retry_at is not None
    # 42 s from the moment it was decided, bracketed by the clock read around the call: no slack to outrun
    assert before + timedelta(seconds=42) <= decision.retry_at <= after + timedelta(seconds=42)


class Receiver:
    """A webhook receiver that verifies with the ``standardwebhooks`` library and dedupes on webhook-id."""

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.fail_first = 0
        self.seen: dict[str, Any] = {}
        self.ids: list[str] = []


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            payload = state.verifier.verify(body, dict(self.headers.items()))  # raises when not authentic
            state.ids.append(self.headers["webhook-id"])
            status = 503 if len(state.ids) <= state.fail_first else 204
            if status == 204:
                state.seen.setdefault(self.headers["webhook-id"], payload)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/calls"
    server.shutdown()
    server.server_close()


def test_the_webhook_is_signed_keeps_its_id_across_retries_and_carries_only_the_mapping(
    settings: Settings, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.fail_first = 1
    hook = {
        "name": "hook",
        "kind": "webhook",
        "base_url": url,
        "secret": SECRET,
        "fields": ["call_id", "summary"],
    }
    runtime = open_runtime(with_destinations(settings, hook))
    try:
        analysed_call(runtime, "hooked", metadata={"ticket": "T-1"})
        [row] = rows(runtime)
        assert attempt(runtime, row.id) is not None  # 503: retried later
        assert attempt(runtime, row.id) is None
        [done] = rows(runtime)
    finally:
        runtime.db.close()
    assert len(state.ids) == 2 and len(set(state.ids)) == 1  # the same webhook-id: the receiver can dedupe
    [payload] = state.seen.values()
    assert payload == {
        "type": "call.analysed",
        "call_id": "hooked",
        "data": {
            "call_id": "hooked",
            "summary": [
                "Customer was charged twice for order 1042.",
                "Agent refunded the duplicate payment.",
            ],
        },
    }
    assert done.status == "delivered" and done.external_id == state.ids[0]


def _rendered(
    settings: Settings,
    destination: dict[str, Any],
    call_id: str,
    *,
    analysis: dict[str, Any] | None = None,
    **call: Any,
) -> Outgoing:
    """What ``destination`` would be sent for a freshly analysed call (``analysed_call``'s options), the LLM
    answering ``analysis`` where given."""
    runtime = open_runtime(with_destinations(settings, destination))
    try:
        if analysis is not None:
            answer = json.dumps(analysis)
            llm = FakeLLM(
                lambda request: answer if "summary" in json.dumps(request.schema) else '{"lines": []}'
            )
            runtime = dataclasses.replace(runtime, llm=llm)
        call_pk = analysed_call(runtime, call_id, **call)
        with runtime.db.transaction() as session:
            stored = session.get(Call, call_pk)
            assert stored is not None
            parsed = runtime.settings.deliveries.destinations[0]
            return deliver.render(call=stored, rt=runtime, destination=parsed, delivery_id=uuid.uuid4())
    finally:
        runtime.db.close()


def test_only_mapped_fields_leave_and_a_transcript_is_cut_to_an_excerpt(settings: Settings) -> None:
    mapped = hubspot(
        "http://127.0.0.1:9",
        fields=["call_id", "topic", "transcript", "outcome", "action_items", "sentiment_trend"],
        subject_template="{topic}: {outcome}",
        body_template="{transcript}\n{action_items}\n{sentiment_trend}",
        transcript_excerpt_chars=20,
    )
    sent = _rendered(settings, mapped, "excerpt", metadata={"crm_contact_id": "501"})
    assert set(sent.fields) == {
        "call_id",
        "topic",
        "transcript",
        "outcome",
        "action_items",
        "sentiment_trend",
    }
    assert sent.fields["transcript"].startswith("Agent: Thanks for calling Acme")  # a webhook gets it whole
    assert sent.fields["outcome"] == {"resolved": True, "callback_needed": None, "escalated": False}
    assert sent.subject == "Refund request: resolved: yes, escalated: no"  # an unknown flag is left out
    # The agent speaks in the first two quarters of the call (0-2.5 s of 6 s), the customer from the second.
    assert sent.body == (
        "Agent: Thanks for ca [...]\n- agent: Refund the duplicate payment\n"
        "agent: Positive → Positive → - → -, customer: - → Negative → Negative → Negative"
    )
    assert sent.contact_id == "501" and sent.customer_number == PHONE  # for the look-up only


def test_a_mapping_sends_the_topic_detail_and_the_issues_as_stored(settings: Settings) -> None:
    """``topic_detail`` and ``issues`` leave like the other analysis fields (docs/delivery.md): as stored in
    the fields a webhook gets (the issues a list of strings), in a body the issues one bullet a line, in a
    subject joined by "; "."""
    issues = ["Charged twice for order 1042", "No refund after a week"]
    mapped = hubspot(
        "http://127.0.0.1:9",
        fields=["call_id", "topic", "topic_detail", "issues"],
        subject_template="{topic}: {topic_detail} ({issues})",
        body_template="Detail: {topic_detail}\nIssues:\n{issues}",
    )
    sent = _rendered(
        settings,
        mapped,
        "detail-issues",
        analysis={**ANALYSIS, "issues": issues},
        metadata={"crm_contact_id": "501"},
    )
    assert set(sent.fields) == {"call_id", "topic", "topic_detail", "issues"}
    assert sent.fields["topic_detail"] == "Duplicate charge refund"
    assert sent.fields["issues"] == issues
    assert sent.subject == (
        "Refund request: Duplicate charge refund (Charged twice for order 1042; No refund after a week)"
    )
    assert sent.body == (
        "Detail: Duplicate charge refund\nIssues:\n- Charged twice for order 1042\n- No refund after a week"
    )


def test_a_subject_is_one_line_whatever_lists_it_names(settings: Settings) -> None:
    """A subject is a one-line field in every CRM: a list in it reads "a; b", not a bullet a line."""
    mapped = hubspot(
        "http://127.0.0.1:9",
        fields=["call_id", "topic", "summary", "action_items"],
        subject_template="{topic}: {summary} (to do: {action_items})",
        body_template="{summary}",
    )
    sent = _rendered(settings, mapped, "one-line", metadata={"crm_contact_id": "501"})
    assert sent.subject == (
        "Refund request: Customer was charged twice for order 1042.; Agent refunded the duplicate payment. "
        "(to do: agent: Refund the duplicate payment)"
    )
    assert sent.body == (  # the body keeps a bullet a line
        "- Customer was charged twice for order 1042.\n- Agent refunded the duplicate payment."
    )


def test_a_mono_calls_missing_trend_leaves_nothing_in_a_template(settings: Settings) -> None:
    """Speakers not told apart: the model is not asked for a trend, and the body says nothing of one (it read
    "agent: , customer: ")."""
    mapped = hubspot(
        "http://127.0.0.1:9",
        fields=["call_id", "outcome", "sentiment_trend"],
        subject_template="Call {call_id}",
        body_template="Trend: {sentiment_trend}|Outcome: {outcome}",
    )
    mono = [segment.model_copy(update={"speaker": Speaker.unknown}) for segment in TRANSCRIPT]
    sent = _rendered(settings, mapped, "mono-trend", metadata={"crm_contact_id": "501"}, segments=mono)
    assert sent.fields["sentiment_trend"] == {"agent": [], "customer": []}  # a webhook gets it as it is
    assert sent.body == "Trend: |Outcome: resolved: yes, escalated: no"


class StallingHubSpot(FakeHubSpot):
    """Files the call, then never answers: the worker dies holding an accepted but unrecorded delivery."""

    def __init__(self, contacts: dict[str, str]) -> None:
        super().__init__(contacts)
        self.accepted = threading.Event()
        self.release = threading.Event()

    def route(self, request: Any) -> Reply:
        reply = super().route(request)
        if request.path == "/crm/v3/objects/calls" and not self.accepted.is_set():
            self.accepted.set()
            self.release.wait(60)
        return reply


def test_a_worker_killed_after_the_crm_accepted_leaves_one_record(settings: Settings) -> None:
    fake = StallingHubSpot({"501": PHONE})
    with serving(fake) as url:
        configured = with_destinations(settings, hubspot(url))
        runtime = open_runtime(configured)
        try:
            analysed_call(runtime, "killed-worker")
            [row] = rows(runtime)
            app = tasks.build_app(runtime)
            with app.open():
                tasks.reconcile_deliveries(runtime, app)
            worker = subprocess.Popen(
                [CALLSENSE, "worker", "--queue", "deliver"],
                env=cli_env(configured),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                assert fake.accepted.wait(60), "the worker never reached the CRM"
            finally:
                worker.kill()  # SIGKILL: no chance to record anything
                worker.wait()
            fake.release.set()
            assert rows(runtime)[0].status == "pending" and len(fake.records) == 1

            result = cli(configured, "deliveries", "retry", str(row.id), "--now")
            assert result.returncode == 0, result.stderr
            [after] = rows(runtime)
        finally:
            runtime.db.close()
    assert after.status == "delivered" and after.attempts == 2
    assert list(fake.records) == [after.external_id]  # found by the call-id search, not created again


def test_no_matching_contact_with_skip_ends_skipped_with_the_reason(settings: Settings) -> None:
    fake = FakeHubSpot({})  # nobody has the caller's number
    with serving(fake) as url:
        runtime = open_runtime(with_destinations(settings, hubspot(url, no_match="skip")))
        try:
            analysed_call(runtime, "stranger")
            [row] = rows(runtime)
            assert attempt(runtime, row.id) is None
            [skipped] = rows(runtime)
        finally:
            runtime.db.close()
    assert skipped.status == "skipped" and skipped.last_error == "no HubSpot contact matches the call"
    assert fake.records == {}


ECHOED = f"{PHONE} is not a valid phone number"  # what CRMs do: the submitted value back in the error
ECHOES: dict[str, tuple[dict[str, Any], Reply]] = {
    "hubspot": (hubspot(""), FakeHubSpot.invalid_property("phone", "INVALID_PHONE_NUMBER", ECHOED)),
    "salesforce": (
        {"kind": "salesforce", "token": "sf-session"},
        Reply(400, [{"message": ECHOED, "errorCode": "INVALID_PHONE", "fields": ["Phone", PHONE]}]),
    ),
    "dynamics": (
        {"kind": "dynamics", "token": "dyn-token"},
        Reply(400, {"error": {"code": "0x80040203", "message": ECHOED}}),
    ),
    "bottlecrm": (
        {"kind": "bottlecrm", "token": "bcrm_pat_x", "no_match": "skip"},
        Reply(400, {"error": True, "errors": {"phone": [ECHOED]}}),
    ),
    "webhook": ({"kind": "webhook", "secret": SECRET}, Reply(400, {"error": ECHOED, "received": PHONE})),
}
REDACTED = {
    "hubspot": "HTTP 400 VALIDATION_ERROR, INVALID_PHONE_NUMBER (fields: phone)",
    "salesforce": "HTTP 400 INVALID_PHONE (fields: Phone)",
    "dynamics": "HTTP 400 0x80040203",
    "bottlecrm": "HTTP 400 (fields: phone)",
    "webhook": "HTTP 400",
}


def _signed_in(client: TestClient, username: str) -> TestClient:
    form = client.get("/app/sign-in").text
    token = form.split('name="signin_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/app/sign-in",
        data={"username": username, "password": "pass phrase 1234", "signin_token": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return client


@pytest.mark.parametrize("vendor", sorted(ECHOES))
def test_a_crm_that_echoes_the_customers_number_leaves_no_trace_of_it(
    settings: Settings, vendor: str
) -> None:
    config, refusal = ECHOES[vendor]
    fake = FakeHubSpot({})  # every request gets a scripted reply: only the error shapes matter here
    fake.fail_next = [Reply(503, {"message": f"upstream timeout for {PHONE}", "detail": PHONE}), refusal]
    with serving(fake) as url:
        destination = {**config, "name": vendor, "base_url": url, "fields": ["call_id", "customer_number"]}
        destination |= {"subject_template": "{call_id}", "body_template": "{call_id}"}
        runtime = open_runtime(with_destinations(settings, destination))
        try:
            analysed_call(runtime, f"echo-{vendor}", number=PHONE)
            [row] = rows(runtime)
            assert attempt(runtime, row.id) is not None  # the 503: retried
            [retrying] = rows(runtime)
            assert attempt(runtime, row.id) is None  # the 400: dead
            seen = _everything_shown(runtime, f"echo-{vendor}")
            [dead] = rows(runtime)
        finally:
            runtime.db.close()
    assert retrying.last_error is not None and retrying.last_error.endswith(": HTTP 503")
    assert dead.status == "dead" and dead.last_error is not None
    assert dead.last_error.endswith(": " + REDACTED[vendor])
    assert REDACTED[vendor] in seen["admin page"] and REDACTED[vendor] in seen["operations"]
    assert "HTTP 400" not in seen["viewer page"] and "HTTP 400" not in seen["analyst page"]
    for where, text_ in seen.items():
        assert PHONE not in text_ and PHONE[1:] not in text_, where


def _everything_shown(rt: Runtime, call_id: str) -> dict[str, str]:
    """The rows, the API answers and the pages that could carry a delivery's reason, as text."""
    from callsense.web import accounts

    with rt.db.transaction() as session:
        seen = {
            "deliveries": "\n".join(session.scalars(text("select d::text from deliveries d"))),
            "events": "\n".join(session.scalars(text("select e::text from events e"))),
        }
        admin = tokens.create(session=session, name="ops", role=Role.admin)
        for role in Role:
            accounts.create_user(session=session, username=role.value, role=role, password="pass phrase 1234")
    with TestClient(create_app(rt, tasks.build_app(rt)), base_url="http://127.0.0.1") as client:
        seen["api deliveries"] = client.get("/deliveries", headers=bearer(admin)).text
        seen["api call"] = client.get(f"/calls/{call_id}", headers=bearer(admin)).text
    for role in Role:
        with TestClient(create_app(rt, tasks.build_app(rt)), base_url="http://127.0.0.1") as client:
            _signed_in(client, role.value)
            seen[f"{role.value} page"] = client.get(f"/app/calls/{call_id}").text
            seen[f"{role.value} list"] = client.get("/app/calls").text
            if role is Role.admin:
                seen["operations"] = client.get("/app/operations").text
    return seen


@pytest.fixture
def proxy() -> Iterator[tuple[FakeHubSpot, str]]:
    """A forward proxy in effect: the stand-in answers requests for absolute URLs as if it were the CRM,
    and records them, so a delivery routed through it shows up here."""
    fake = FakeHubSpot({"501": PHONE})
    with serving(fake) as url:
        yield fake, url


def test_proxy_variables_do_not_route_deliveries(
    rt: Runtime,
    crm: tuple[FakeHubSpot, str],
    proxy: tuple[FakeHubSpot, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy[1])
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    analysed_call(rt, "direct")
    [row] = rows(rt)
    assert attempt(rt, row.id) is None
    assert proxy[0].requests == []  # the variables were ignored
    assert rows(rt)[0].status == "delivered" and len(crm[0].records) == 1


def test_a_destination_reaches_its_crm_through_the_proxy_it_names(
    settings: Settings, crm: tuple[FakeHubSpot, str], proxy: tuple[FakeHubSpot, str]
) -> None:
    runtime = open_runtime(with_destinations(settings, hubspot(crm[1], proxy_url=proxy[1])))
    try:
        analysed_call(runtime, "proxied")
        [row] = rows(runtime)
        assert attempt(runtime, row.id) is None
    finally:
        runtime.db.close()
    assert crm[0].requests == [] and len(proxy[0].records) == 1
    assert {r.headers["host"] for r in proxy[0].requests} == {crm[1].removeprefix("http://")}
