"""The dashboard and redaction, over HTTP (the ASGI app in-process, real PostgreSQL): the call page and its
player show the redacted view; "Show sensitive data" is offered to users with the permission only, and each
use of it lands in the call's access log."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callsense.calls import service as calls
from callsense.cli.main import app as cli
from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.redaction_calls import CARD, process, runtime

PASSWORD = "correct horse battery"
SAME_SITE = {"sec-fetch-site": "same-origin"}  # what a browser says of a click on our own page


@pytest.fixture
def rt(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    runtime_ = runtime(settings, keep_original_audio=True)
    process(runtime_, "card")
    with runtime_.db.transaction() as session:
        for name in ("trusted", "plain"):
            accounts.create_user(session=session, username=name, role=Role.analyst, password=PASSWORD)
    # the admin grants the permission from the command line
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", runtime_.settings.database_url or "")
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(runtime_.settings.data_dir))
    granted = CliRunner().invoke(cli, ["users", "sensitive", "trusted", "--allow"])
    assert granted.exit_code == 0, granted.output
    yield runtime_
    runtime_.db.close()


def _signed_in(client: TestClient, username: str) -> TestClient:
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    return client


def _kinds(rt: Runtime) -> list[tuple[str, str | None]]:
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="card")
        return [(event.kind, event.actor) for event in calls.events(session=session, call_pk=call.id)]


def test_a_viewer_cannot_be_granted_sensitive_data(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        accounts.create_user(session=session, username="watcher", role=Role.viewer, password=PASSWORD)
    refused = CliRunner().invoke(cli, ["users", "sensitive", "watcher", "--allow"])
    assert refused.exit_code == 1 and "needs the analyst or admin role" in refused.output
    with rt.db.transaction() as session:
        assert not accounts.all_users(session=session)[-1].sees_sensitive  # users by name: watcher is last
    assert CliRunner().invoke(cli, ["users", "sensitive", "watcher", "--deny"]).exit_code == 0


def test_the_call_page_shows_sensitive_data_only_with_the_permission(rt: Runtime) -> None:
    app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as base:
        plain = _signed_in(base, "plain")
        page = plain.get("/app/calls/card", headers=SAME_SITE)
        assert page.status_code == 200 and "[CARD_NUMBER]" in page.text and CARD not in page.text
        assert "Show sensitive data" not in page.text
        assert plain.get("/app/calls/card?sensitive=1", headers=SAME_SITE).status_code == 403
        assert plain.get("/app/calls/card/audio?sensitive=1", headers=SAME_SITE).status_code == 403
        audio = plain.get("/app/calls/card/audio", headers=SAME_SITE)
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/flac"
        base.cookies.clear()

        trusted = _signed_in(base, "trusted")
        page = trusted.get("/app/calls/card", headers=SAME_SITE)
        assert CARD not in page.text and "sensitive_viewed" not in str(_kinds(rt))
        link = re.search(r'id="show-sensitive" href="([^"]+)"', page.text)
        assert link is not None
        shown = trusted.get(html.unescape(link[1]), headers=SAME_SITE)
        assert shown.status_code == 200 and CARD in shown.text and "Showing sensitive data" in shown.text
        player = re.search(r'<audio id="player"[^>]* src="([^"]+)"', shown.text)
        assert player is not None and "sensitive=1" in player[1]
        original = trusted.get(html.unescape(player[1]), headers=SAME_SITE)
        assert original.status_code == 200 and original.headers["content-type"] == "audio/wav"
    kinds = _kinds(rt)
    assert ("sensitive_viewed", "user:trusted") in kinds and ("sensitive_played", "user:trusted") in kinds
    assert not any(actor == "user:plain" and kind.startswith("sensitive") for kind, actor in kinds)


@pytest.mark.parametrize("fetch_site", ["same-origin", "none"])
def test_sensitive_data_needs_the_pages_own_button_not_just_a_link(rt: Runtime, fetch_site: str) -> None:
    """A link that merely asks for ``?sensitive=1`` (in a phishing mail clicked in a desktop mail client,
    which a browser reports as ``none``, or as the ``next`` of the sign-in form, which lands same-origin) does
    not show the text as said nor write ``sensitive_viewed`` in the person's name: only the page's own
    "Show sensitive data" button, which carries the session's confirmation, does."""
    app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as base:
        trusted = _signed_in(base, "trusted")
        headers = {"sec-fetch-site": fetch_site}
        page = trusted.get("/app/calls/card?sensitive=1", headers=headers)
        assert page.status_code == 200 and CARD not in page.text and "[CARD_NUMBER]" in page.text
        assert 'id="show-sensitive"' in page.text  # the way to it is one deliberate click away
        audio = trusted.get("/app/calls/card/audio?sensitive=1", headers=headers)
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/flac"  # the redacted copy
    assert not any(kind.startswith("sensitive") for kind, _ in _kinds(rt))
