"""`callsense sources list | test | poll | retry` against a real folder and database, and the same status on
the dashboard's operations page (admins only)."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from callsense import metrics
from callsense.calls import source_files
from callsense.cli.main import app
from callsense.config import load_settings
from callsense.pipeline import queue_figures, tasks
from callsense.runtime import open_runtime
from callsense.server import create_app
from callsense.web import accounts
from callsense.web.accounts import Role
from tests.recording_trees import put, tiny_wav

PASSWORD = "correct horse battery"


def test_sources_from_the_command_line_and_on_the_operations_page(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    put(share, "2024/a.wav", tiny_wav())
    put(share, "2024/b.wav", b"not audio at all")
    folders = [
        {"name": "nas", "path": str(share), "stable_seconds": 0, "after_ingest": "move"},
        {"name": "unmounted", "path": str(tmp_path / "gone")},
    ]
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSENSE_SOURCES__FOLDERS", json.dumps(folders))
    runner = CliRunner()

    listed = runner.invoke(app, ["sources", "list"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"nas .* never", listed.output) and "unmounted" in listed.output
    checked = runner.invoke(app, ["sources", "test", "nas"])
    assert checked.exit_code == 0, checked.output
    assert "2 file(s) match **/*.wav" in checked.output and "FAIL" not in checked.output
    missing = runner.invoke(app, ["sources", "test", "unmounted"])
    assert missing.exit_code == 1 and "folder exists" in missing.output and "FAIL" in missing.output

    polled = runner.invoke(app, ["sources", "poll", "nas"])
    assert polled.exit_code == 0, polled.output
    assert "nas: 2 seen, 1 taken, 0 not complete yet, 1 refused, 0 to try again, 0 left" in polled.output
    assert "2024/b.wav: the file holds" in polled.output  # the refusal's reason
    assert (share / "processed/2024/a.wav").exists() and (share / "2024/b.wav").exists()
    down = runner.invoke(app, ["sources", "poll", "unmounted"])
    assert down.exit_code == 75 and "does not exist" in down.output
    unknown = runner.invoke(app, ["sources", "poll", "nope"])
    assert unknown.exit_code == 1 and "no source named 'nope'" in unknown.output
    again = runner.invoke(app, ["sources", "list"])
    assert re.search(r"nas .* 2 +│ 1 +│ 1 ", again.output), again.output

    rt = open_runtime(load_settings())
    try:
        with rt.db.transaction() as session:  # as a poll leaves a file whose takes all killed the poller
            session.execute(text("update source_files set status = 'given_up' where path = '2024/b.wav'"))
        assert re.search(r"nas .* 2 +│ 1 +│ 1 +│ 1 ", runner.invoke(app, ["sources", "list"]).output)
        scraped = metrics.render(rt.db, queue=queue_figures, blob_dir=tmp_path, categories_stale=0).decode()
        assert 'callsense_source_files_given_up{source="nas"} 1.0' in scraped
        with rt.db.transaction() as session:
            queued = session.execute(text("select queue_name from procrastinate_jobs where status = 'todo'"))
            assert list(queued.scalars()) == ["transcribe"]  # the poll queued the call it took
            for role in (Role.admin, Role.analyst):
                accounts.create_user(session=session, username=role.value, role=role, password=PASSWORD)
            # as a REST source's API that answered 429 with a Retry-After leaves its source
            until = source_files.hold_off(session=session, source="nas", seconds=120)
        held = runner.invoke(app, ["sources", "list"]).output
        assert "(next not before" in held and f"{until.isoformat(timespec='seconds')})" in held, held
        application = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
        with TestClient(application, base_url="http://127.0.0.1", follow_redirects=False) as client:
            assert _signed_in(client, "analyst").get("/app/operations").status_code == 403
            page = _signed_in(client, "admin").get("/app/operations")
        assert page.status_code == 200 and "Recording sources" in page.text
        nas_row = re.search(r"<td>nas</td>.*?</tr>", page.text, re.S)
        assert nas_row and re.findall(r'class="num[ a-z-]*">(\d+)<', nas_row[0]) == ["2", "1", "1", "1"]
        assert f"next not before {until.astimezone(UTC):%H:%M:%S}, as its API asked" in nas_row[0]
        assert "does not exist" in page.text  # the unmounted source's last error
        retried = runner.invoke(app, ["sources", "retry", "nas"])
        assert retried.exit_code == 0 and "2024/b.wav" in retried.output and "1 given-up" in retried.output
        with rt.db.transaction() as session:
            row = session.execute(text("select status, attempts from source_files where path = '2024/b.wav'"))
            assert row.one() == ("pending", 0)
    finally:
        rt.db.close()


def _signed_in(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    return client


def test_names_and_reasons_with_brackets_are_printed_as_they_are(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    put(share, "[/q1]/[bold]b.wav", b"not audio at all")  # a recording's name is whatever the recorder wrote
    folders = [{"name": "nas", "path": str(share), "stable_seconds": 0}]
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSENSE_SOURCES__FOLDERS", json.dumps(folders))
    runner = CliRunner()

    polled = runner.invoke(app, ["sources", "poll", "nas"])
    assert polled.exit_code == 0 and "[/q1]/[bold]b.wav: the file holds" in polled.output, polled.output
    listed = runner.invoke(app, ["sources", "list"])
    assert listed.exit_code == 0 and "[/q1]/[bold]b.wav" in listed.output, listed.output
    put(share, "line\nbreak\x1b]0;owned\x07.wav", b"not audio either")  # a newline, a terminal's escape
    polled = runner.invoke(app, ["sources", "poll", "nas"])
    shown = "line\\nbreak\\x1b]0;owned\\x07.wav: the file holds"
    assert shown in polled.output and "\x1b" not in polled.output, polled.output
    listed = runner.invoke(app, ["sources", "list"])
    assert "line\\nbreak" in listed.output and "\x1b" not in listed.output, listed.output
    unknown = runner.invoke(app, ["sources", "poll", "[/nas]"])
    assert unknown.exit_code == 1 and "no source named '[/nas]'" in unknown.output, unknown.output
    no_call = runner.invoke(app, ["calls", "hold", "[/x]", "--reason", "case 1"])  # common.errors_as_exit
    assert no_call.exit_code == 1 and "no call with id '[/x]'" in no_call.output, no_call.output
