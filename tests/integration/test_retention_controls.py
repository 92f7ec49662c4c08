"""Legal hold and erasure from the dashboard (over HTTP, real PostgreSQL) and the command line; the retention
section of the operations page; ``callsense retention status|purge``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from callsense.calls import service as calls_service
from callsense.calls.models import Call, Event
from callsense.cli.main import app as cli
from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.integration.test_retention import RULES, _has_audio, _processed, _settings
from tests.integration.test_stages import runtime_with_fakes

PASSWORD = "correct horse battery"
LOCAL = "http://127.0.0.1"


@pytest.fixture
def rt(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_with_fakes(_settings(settings, tmp_path / "nas", RULES))
    with runtime.db.transaction() as session:
        for role in (Role.analyst, Role.admin):
            accounts.create_user(session=session, username=role.value, role=role, password=PASSWORD)
    yield runtime
    runtime.db.close()


def _signed_in(rt: Runtime, username: str) -> tuple[TestClient, str]:
    client = TestClient(create_app(rt, tasks.build_app(rt), worker_concurrency=0), base_url=LOCAL)
    client.follow_redirects = False
    form = client.get("/app/sign-in").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token is not None
    client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app/calls").text)
    assert csrf is not None
    return client, csrf[1]


def test_an_admin_holds_releases_and_erases_a_call_from_its_page(rt: Runtime) -> None:
    call_pk = _processed(rt, "page-call", days_old=1)
    client, csrf = _signed_in(rt, "admin")
    page = client.get("/app/calls/page-call").text
    assert "Put under legal hold" in page and "Erase this call" in page

    held = client.post("/app/calls/page-call/hold", data={"csrf_token": csrf, "reason": "case 12"})
    assert held.status_code == 303
    page = client.get("/app/calls/page-call").text
    assert "Legal hold" in page and "case 12" in page and "Release the legal hold" in page
    assert "Erase this call" not in page  # a held call offers no erasure
    refused = client.post(
        "/app/calls/page-call/erase",
        data={"csrf_token": csrf, "reason": "DSR-1", "confirm_call_id": "page-call"},
    )
    assert refused.status_code == 409 and "legal hold" in refused.text

    client.post("/app/calls/page-call/release", data={"csrf_token": csrf, "reason": "closed"})
    unconfirmed = client.post(
        "/app/calls/page-call/erase", data={"csrf_token": csrf, "reason": "DSR-1", "confirm_call_id": "x"}
    )
    assert unconfirmed.status_code == 400 and _has_audio(rt, call_pk)
    erased = client.post(
        "/app/calls/page-call/erase",
        data={"csrf_token": csrf, "reason": "DSR-1", "confirm_call_id": "page-call"},
    )
    assert erased.status_code == 200 and "Call page-call is erased" in erased.text
    assert "hook:hook-page-call" in erased.text  # the CRM record to erase there too
    assert client.get("/app/calls/page-call").status_code == 404
    with rt.db.transaction() as session:
        record = session.scalars(select(Event).where(Event.call_id == "page-call")).one()
    assert (record.actor, record.stage) == ("user:admin", "erasure")


def _confirmed(action: str, call_id: str) -> dict[str, str]:
    """The field the erase form adds (the others take none: a field a route does not take is refused)."""
    return {"confirm_call_id": call_id} if action == "erase" else {}


def test_an_analyst_may_neither_hold_nor_erase(rt: Runtime) -> None:
    _processed(rt, "kept-call", days_old=1)
    client, csrf = _signed_in(rt, "analyst")
    assert "Erase this call" not in client.get("/app/calls/kept-call").text
    for action in ("hold", "release", "erase"):
        form = {"csrf_token": csrf, "reason": "r"} | _confirmed(action, "kept-call")
        refused = client.post(f"/app/calls/kept-call/{action}", data=form)
        assert refused.status_code == 403 and "admin role" in refused.text


def test_a_reason_longer_than_the_apis_or_holding_a_nul_is_refused_and_changes_nothing(rt: Runtime) -> None:
    call_pk = _processed(rt, "reason-call", days_old=1)
    client, csrf = _signed_in(rt, "admin")
    for reason in ("case " + "9" * 500, "case\x0012"):
        for action in ("hold", "erase"):
            form = {"csrf_token": csrf, "reason": reason} | _confirmed(action, "reason-call")
            refused = client.post(f"/app/calls/reason-call/{action}", data=form)
            assert refused.status_code == 400 and "at most 500 characters" in refused.text
    assert "Put under legal hold" in client.get("/app/calls/reason-call").text and _has_audio(rt, call_pk)


def test_the_call_page_and_operations_page_show_the_purge(rt: Runtime) -> None:
    from callsense.pipeline import retention

    _processed(rt, "old-call", days_old=200)
    retention.purge(rt, actor="worker")
    client, _ = _signed_in(rt, "admin")
    page = client.get("/app/calls/old-call").text
    assert "The recording was removed on" in page and "The transcript and analysis were removed" in page
    operations = client.get("/app/operations").text
    assert "Retention" in operations and "30 days" in operations and "forever" in operations
    assert "recordings of 1 calls, text of 1 calls" in operations and "17 3 * * *" in operations


def test_the_command_line_holds_purges_and_erases(
    rt: Runtime, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _processed(rt, "cli-old", days_old=100)
    _processed(rt, "cli-held", days_old=100)
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("CALLSENSE_RETENTION__AUDIO_DAYS", "30")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result.output

    assert "legal hold since" in run("calls", "hold", "cli-held", "--reason", "case 3")
    assert "([/tickets] 4)" in run("calls", "hold", "cli-held", "--reason", "[/tickets] 4")  # not markup
    run("calls", "hold", "cli-held", "--reason", "  ", code=2)  # a reason is required
    status = run("retention", "status")
    assert "30 days" in status and "calls under legal hold: 1" in status and "last purge: never" in status
    planned = run("retention", "purge", "--dry-run")
    assert re.search(r"\(webhook, API, CLI\)\W+1\W+0", planned), planned
    assert re.search(r"\(webhook, API, CLI\)\W+1\W+0", run("retention", "purge"))
    assert re.search(r"total\W+0\W+0", run("retention", "purge"))  # done already

    refused = run("calls", "erase", "cli-held", "--reason", "DSR-7", "--yes", code=1)
    assert "legal hold" in refused
    assert "legal hold released" in run("calls", "release", "cli-held", "--reason", "closed")
    assert "cli-held: erased" in run("calls", "erase", "cli-held", "--reason", "DSR-7", "--yes")
    # Without --yes, asked only about a call there is: an erased or unknown id is answered at once.
    assert "already erased" in run("calls", "erase", "cli-held", "--reason", "DSR-7")
    unknown = runner.invoke(cli, ["calls", "erase", "never-was", "--reason", "DSR-8"])
    assert unknown.exit_code == 1 and "Erase call" not in unknown.output, unknown.output
    asked = runner.invoke(cli, ["calls", "erase", "cli-old", "--reason", "DSR-9"], input="n\n")
    assert asked.exit_code == 1 and "Erase call cli-old for good?" in asked.output
    with rt.db.transaction() as session:  # declined: kept
        assert calls_service.get(session=session, call_id="cli-old").call_id == "cli-old"
    assert "no call" in run("calls", "erase", "nobody", "--reason", "DSR-8", "--yes", code=1)
    with rt.db.transaction() as session:
        assert session.scalars(select(Call.call_id)).all() == ["cli-old"]
