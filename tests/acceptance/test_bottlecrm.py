"""Delivery into a real, running BottleCRM (installed and started by ``tests/bottlecrm.py``): the call is read
back through BottleCRM's own API, on the right contact; the CLI shows the delivery; a crash between "accepted"
and "recorded" leaves one interaction; a rejection is dead-lettered and retried from the CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from callsense.calls.models import Delivery
from callsense.config import Settings
from callsense.pipeline import deliver, tasks
from callsense.runtime import Runtime, open_runtime
from tests.bottlecrm import BottleCRM, running_bottlecrm
from tests.conftest import AUDIO
from tests.crm_calls import ANALYSIS, analysed_call, cli
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env, callsense_serve

pytestmark = pytest.mark.external_pg  # BottleCRM keeps its database on the machine's PostgreSQL
PHONE = "+14155550100"


@pytest.fixture(scope="module")
def bottlecrm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BottleCRM]:
    with running_bottlecrm(tmp_path_factory.mktemp("bottlecrm"), phone=PHONE) as crm:
        yield crm


def destination(crm: BottleCRM, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "bottlecrm",
        "kind": "bottlecrm",
        "base_url": crm.url,
        "token": crm.token,
        "no_match": "skip",
        **overrides,
    }


def delivering_to(settings: Settings, *destinations: dict[str, Any]) -> Settings:
    deliveries = {"destinations": list(destinations), "retry_initial_s": 1}
    return Settings.model_validate({**settings.model_dump(), "deliveries": deliveries})


@pytest.fixture
def rt(settings: Settings, bottlecrm: BottleCRM) -> Iterator[Runtime]:
    runtime = open_runtime(delivering_to(settings, destination(bottlecrm)))
    yield runtime
    runtime.db.close()


def listed(settings: Settings) -> list[dict[str, Any]]:
    result = cli(settings, "deliveries", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def rows(rt: Runtime) -> list[Delivery]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(Delivery)))


def ours(interactions: list[dict[str, Any]], call_id: str) -> list[dict[str, Any]]:
    return [row for row in interactions if f"[callsense call {call_id}]" in str(row["body"])]


def test_analysed_call_lands_on_the_right_contact_and_shows_delivered(
    rt: Runtime, bottlecrm: BottleCRM
) -> None:
    call_pk = analysed_call(rt, "bcrm-e2e", number=PHONE)
    [row] = rows(rt)
    assert (row.call_pk, row.destination, row.status) == (call_pk, "bottlecrm", "pending")

    # The real job path: a Procrastinate worker runs the deliver job the outbox row asks for.
    app = tasks.build_app(rt)
    with app.open():
        assert tasks.reconcile_deliveries(rt, app) == 1
    app.run_worker(queues=["deliver"], wait=False, **_options(rt))

    [interaction] = ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-e2e")
    assert interaction["kind"] == "call" and interaction["direction"] == "inbound"
    assert interaction["duration_seconds"] == 95
    assert interaction["occurred_at"].startswith("2026-11-20T09:30:00")
    assert interaction["subject"] == "Call bcrm-e2e: Refund request"
    body = str(interaction["body"])
    for text in [*ANALYSIS["summary"], "Refund request", "Negative", "Frustrated"]:
        assert str(text) in body
    assert "charged twice for my order" not in body  # the transcript is not in the mapping: it stays home
    assert ours(bottlecrm.interactions(bottlecrm.other_contact_id), "bcrm-e2e") == []

    [shown] = listed(rt.settings)
    assert shown["status"] == "delivered" and shown["call_id"] == "bcrm-e2e"
    assert shown["external_id"] == interaction["id"] and shown["attempts"] == 1


def _options(rt: Runtime) -> dict[str, Any]:
    options = tasks.worker_options(rt, queues=["deliver"], concurrency=1)
    options.pop("queues")
    return options


def test_crash_between_accepted_and_recorded_still_leaves_one_interaction(
    rt: Runtime, bottlecrm: BottleCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysed_call(rt, "bcrm-crash", number=PHONE)
    [row] = rows(rt)

    def crash(*args: object) -> None:
        raise ConnectionError("the worker died before recording the delivery")

    with monkeypatch.context() as patched:
        patched.setattr(deliver, "record_receipt", crash)
        with pytest.raises(ConnectionError):
            deliver.run(rt, row.id)
    assert len(ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-crash")) == 1
    assert rows(rt)[0].status == "pending"

    deliver.run(rt, row.id)  # the retry finds the interaction BottleCRM already has
    [interaction] = ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-crash")
    [after] = rows(rt)
    assert after.status == "delivered" and after.external_id == interaction["id"] and after.attempts == 2


def test_a_body_over_bottlecrms_size_is_cut_says_so_and_is_still_filed_once(
    settings: Settings, bottlecrm: BottleCRM
) -> None:
    long_body = destination(bottlecrm, body_template="{summary}\n\n" * 150)  # about 14,000 characters
    runtime = open_runtime(delivering_to(settings, long_body))
    try:
        analysed_call(runtime, "bcrm-long", number=PHONE)
        [row] = rows(runtime)
        deliver.run(runtime, row.id)
        with runtime.db.transaction() as session:  # tried again, as after a crash before it was recorded
            session.execute(update(Delivery).values(status="pending"))
        deliver.run(runtime, row.id)
        [after] = rows(runtime)
    finally:
        runtime.db.close()
    [interaction] = ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-long")  # the reference survived
    body = str(interaction["body"])
    assert len(body) <= 10_000 and body.startswith("- Customer was charged twice")
    assert body.endswith("the whole analysis is in callsense\n\n[callsense call bcrm-long]")
    assert after.status == "delivered" and after.external_id == interaction["id"]


def test_refused_delivery_is_dead_lettered_visible_in_the_cli_and_retried_from_it(
    settings: Settings, bottlecrm: BottleCRM
) -> None:
    wrong = delivering_to(settings, destination(bottlecrm, token="bcrm_pat_revoked"))
    broken = open_runtime(wrong)
    try:
        analysed_call(broken, "bcrm-refused", number=PHONE)
        [row] = rows(broken)
        deliver.run(broken, row.id)  # refused: fails fast, no retry
    finally:
        broken.db.close()
    [dead] = listed(wrong)
    assert dead["status"] == "dead" and dead["response_status"] == 403  # DRF answers a bad token with 403
    assert dead["last_error"].endswith(": HTTP 403")  # DRF's {"detail": ...}: its words are not kept
    assert ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-refused") == []

    fixed = delivering_to(settings, destination(bottlecrm))
    result = cli(fixed, "deliveries", "retry", dead["id"], "--now")
    assert result.returncode == 0, result.stderr
    assert "delivered" in result.stdout
    [interaction] = ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-refused")
    [shown] = listed(fixed)
    assert shown["status"] == "delivered" and shown["external_id"] == interaction["id"]


def test_bottlecrm_field_error_is_dead_lettered_with_its_reason(rt: Runtime, bottlecrm: BottleCRM) -> None:
    # BottleCRM refuses a call more than five minutes in the future: a real 400 with a field error.
    analysed_call(rt, "bcrm-future", number=PHONE, started_at=datetime.now(UTC) + timedelta(days=2))
    [row] = rows(rt)
    deliver.run(rt, row.id)
    [dead] = rows(rt)
    assert dead.status == "dead" and dead.response_status == 400
    # The field BottleCRM names, not its message (a message may echo the value sent).
    assert dead.last_error is not None and dead.last_error.endswith(": HTTP 400 (fields: occurred_at)")
    assert ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-future") == []


SECRET = "whsec_" + base64.b64encode(b"callsense-bottlecrm-e2e-secret-0").decode()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recordings() -> Iterator[str]:
    """A recording system on loopback serving the committed fixture audio."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(AUDIO)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def signed(payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A "recording ready" webhook signed by the standardwebhooks library."""
    body, msg_id, now = json.dumps(payload), f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(msg_id, now, body),
        "content-type": "application/json",
    }
    return body, headers


@pytest.mark.slow
def test_a_call_processed_end_to_end_by_the_service_appears_in_bottlecrm(
    bottlecrm: BottleCRM,
    external_database_url: str,
    recordings: str,
    tmp_path: Path,
) -> None:
    """Issue 4's "done means": a signed webhook in, Whisper and a stub LLM, the call out in BottleCRM."""
    with openai_answering(json.dumps(ANALYSIS)) as llm:
        env = callsense_env(
            tmp_path / "data",
            CALLSENSE_DATABASE_URL=external_database_url,
            CALLSENSE_WEBHOOKS__SECRETS=json.dumps([SECRET]),
            CALLSENSE_FETCH__ALLOW_NETWORKS=json.dumps(["127.0.0.0/8"]),
            CALLSENSE_LLM__BACKEND="openai",
            CALLSENSE_LLM__BASE_URL=llm,
            CALLSENSE_LLM__MODEL="stub",
            CALLSENSE_DELIVERIES=json.dumps({"destinations": [destination(bottlecrm)]}),
        )
        admin = subprocess.run(
            [CALLSENSE, "tokens", "create", "ops", "--role", "admin"], env=env, capture_output=True, text=True
        ).stdout.strip()
        with callsense_serve(env, tmp_path / "serve.log") as url:
            payload = {
                "call_id": "bcrm-served",
                "recording_url": f"{recordings}/en_short.mono.flac",
                "customer_number": PHONE,
                "direction": "inbound",
                "started_at": "2026-11-21T15:00:00Z",
            }
            body, headers = signed(payload)
            assert httpx.post(f"{url}/webhooks/recording", content=body, headers=headers).status_code == 202
            item = _delivered(url, admin, "bcrm-served")
    [interaction] = ours(bottlecrm.interactions(bottlecrm.contact_id), "bcrm-served")
    assert item["external_id"] == interaction["id"]
    for text in [*ANALYSIS["summary"], ANALYSIS["topic"], ANALYSIS["sentiment"], ANALYSIS["emotion"]]:
        assert str(text) in str(interaction["body"])
    shown = subprocess.run(
        [CALLSENSE, "deliveries", "list", "--json"], env=env, capture_output=True, text=True, check=True
    )
    [row] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["call_id"] == "bcrm-served" and row["status"] == "delivered"


def _delivered(url: str, token: str, call_id: str) -> dict[str, Any]:
    """Polls the API until the call's delivery ends (a deadline for a hung pipeline, not a timing check)."""
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            for item in client.get("/deliveries").json()["items"]:
                if item["call_id"] == call_id and item["status"] != "pending":
                    assert item["status"] == "delivered", item
                    return dict(item)
            time.sleep(1)
    pytest.fail(f"{call_id} was not delivered")
