"""The dashboard over HTTP (the ASGI app in-process, real PostgreSQL): sign-in, cookie flags, CSRF refusals,
roles on pages and audio, the audit trail, CSV downloads."""

from __future__ import annotations

import base64
import codecs
import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from callsense.calls import service as calls
from callsense.calls.models import Analysis, Call, Delivery, Event
from callsense.calls.schemas import CallStatus
from callsense.calls.search import CallSearch
from callsense.config import Settings
from callsense.pipeline import categorise, tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.conftest import _fresh_database
from tests.dashboard_seed import seed, seed_held_call, seed_mono_call, seed_transferred_call

PASSWORD = "correct horse battery"
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    for url in _fresh_database(embedded_server_url):
        data_dir: Path = tmp_path_factory.mktemp("dashboard-http")
        runtime = open_runtime(Settings(data_dir=data_dir, database_url=url))
        seed(runtime)
        with runtime.db.transaction() as session:
            for role in Role:
                accounts.create_user(session=session, username=role.value, role=role, password=PASSWORD)
        yield runtime
        runtime.db.close()


@pytest.fixture(scope="module")
def app(rt: Runtime) -> Iterator[object]:
    application = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(application, base_url=LOCAL):  # runs the lifespan once for the module
        yield application


def _client(app: object, base_url: str = LOCAL) -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)  # type: ignore[arg-type]


def _sign_in(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/app/calls"):
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    return client.post(
        "/app/sign-in",
        data={"username": username, "password": password, "signin_token": token[1], "next": next_path},
    )


def _csrf(client: TestClient, path: str = "/app/calls") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found[1]


def test_pages_need_a_session(app: object) -> None:
    response = _client(app).get("/app/calls")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/sign-in?next=/app/calls"


def test_session_cookie_is_httponly_lax_and_secure_off_loopback(app: object) -> None:
    local = _sign_in(_client(app), "viewer")
    cookie = local.headers["set-cookie"].lower()
    assert local.status_code == 303 and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback: a browser would drop a Secure cookie
    remote = _sign_in(_client(app, "https://calls.example.com"), "viewer")
    assert "secure" in remote.headers["set-cookie"].lower()


def test_sign_in_refuses_a_wrong_password_and_a_forged_form(app: object) -> None:
    client = _client(app)
    assert _sign_in(client, "analyst", "not the password").status_code == 401
    forged = _client(app).post(
        "/app/sign-in",
        data={"username": "analyst", "password": PASSWORD, "signin_token": "made-up", "next": ""},
    )
    assert forged.status_code == 403 and "callsense_session" not in forged.headers.get("set-cookie", "")


def test_a_form_that_does_not_validate_gets_a_page_that_does_not_repeat_it(app: object, rt: Runtime) -> None:
    """FastAPI's 422 answers JSON quoting every value it refused: a password pasted over the length limit
    came back in the response."""
    password = "pasted-secret-" * 100
    client = _client(app)
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post(
        "/app/sign-in", data={"username": "analyst", "password": password, "signin_token": token[1]}
    )
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "pasted-secret" not in response.text and "password: String should have at most" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    with rt.db.transaction() as session:
        viewer = tokens.create(session=session, name="form-viewer", role=Role.viewer)
    api = client.get("/calls", params={"limit": "many"}, headers={"authorization": f"Bearer {viewer}"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "limit"]  # still JSON


def test_a_form_field_the_page_does_not_send_is_refused_naming_it(app: object) -> None:
    """Ignored, a misspelt optional field was taken as not sent: the category was saved without the
    description typed into it."""
    client = _client(app)
    form = client.get("/app/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    data = {"username": "admin", "pasword": PASSWORD, "signin_token": token[1], "next": ""}
    misspelt = client.post("/app/sign-in", data=data)
    assert misspelt.status_code == 422 and misspelt.headers["content-type"].startswith("text/html")
    assert "this page does not take (“pasword”)" in misspelt.text and "reload the page" in misspelt.text
    assert "callsense_session" not in misspelt.headers.get("set-cookie", "")

    _sign_in(client, "admin")
    csrf = _csrf(client, "/app/categories")
    rule = 'said = ["refund"]'
    refused = client.post(
        "/app/categories",
        data={"csrf_token": csrf, "name": "Misspelt", "rule": rule, "descripton": "Refunds", "x": "1"},
    )
    assert refused.status_code == 422 and "(“descripton”, “x”)" in refused.text
    assert "Misspelt" not in client.get("/app/categories").text
    # The token is taken from a form as from htmx's header, both at once too (an htmx-posted form).
    signed_out = client.post("/app/sign-out", data={"csrf_token": csrf}, headers={"x-csrf-token": csrf})
    assert signed_out.status_code == 303


def test_sign_in_never_redirects_to_another_site(app: object) -> None:
    response = _sign_in(_client(app), "viewer", next_path="//evil.example/app/calls")
    assert response.headers["location"] == "/app/calls"


def test_posts_without_the_csrf_token_are_refused(app: object) -> None:
    client = _client(app)
    _sign_in(client, "admin")
    assert client.post("/app/calls/demo-refund/reprocess").status_code == 403
    assert client.post("/app/sign-out", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/app/calls").status_code == 200  # still signed in
    signed_out = client.post("/app/sign-out", data={"csrf_token": _csrf(client)})
    assert signed_out.status_code == 303
    assert client.get("/app/calls").status_code == 303


@pytest.mark.parametrize("sort", ["time", "duration", "agent"])
def test_a_tampered_page_cursor_gets_a_page_not_a_server_error(app: object, sort: str) -> None:
    """A cursor is base64 of JSON in the query string: whatever a link carries gets a page, never a 500."""
    client = _client(app)
    _sign_in(client, "viewer")
    huge = [10**400, "00000000-0000-0000-0000-000000000000"]
    for tampered in (["2026-01-01T00:00:00", 5], ["Zoe", ["x"]], huge, {"a": 1, "b": 2}, "x", [1, 2, 3]):
        cursor = base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode()
        response = client.get("/app/calls", params={"sort": sort, "after": cursor})
        assert response.status_code == 200 and 'class="calls"' in response.text, tampered


def test_a_viewer_sees_the_analysis_but_no_transcript_or_audio(app: object) -> None:
    client = _client(app)
    _sign_in(client, "viewer")
    page = client.get("/app/calls/demo-refund")
    assert page.status_code == 200
    assert "Duplicate charge refund" in page.text and "Sarah Miller" not in page.text
    assert "Refund $49 to the card" in page.text and "Sentiment over the call" in page.text  # analysis
    assert "<audio" not in page.text
    assert client.get("/app/calls/demo-refund/audio").status_code == 403
    assert client.get("/app/operations").status_code == 403
    assert 'id="talk-title"' in page.text and "62%" in page.text  # talk figures are numbers, not words


def test_the_call_page_shows_the_issues_the_outcome_and_the_trend_data_it_charts(app: object) -> None:
    """The analysis as the seed wrote it: the issues listed, each outcome answered (or "not said"), and the
    sentiment per quarter embedded as the chart's data (levels 0-2 from Negative up, null for a silent
    quarter), named in the canvas's label, and kept as the "Show the numbers" table for those without it."""
    client = _client(app)
    _sign_in(client, "viewer")  # the analysis is every role's: no transcript needed
    page = client.get("/app/calls/demo-refund").text
    issues = re.search(r"<h3>Issues</h3>\s*<ul[^>]*>(.*?)</ul>", page, re.S)
    assert issues is not None
    assert re.findall(r"<li>(.*?)</li>", issues[1]) == [
        "Charged twice for one phone bill",
        "Needs the duplicate payment refunded",
    ]
    outcome = dict(re.findall(r"<dt>(Resolved|Callback needed|Escalated)</dt><dd>(.*?)</dd>", page))
    assert outcome == {
        "Resolved": "Yes",
        "Callback needed": '<span class="muted">not said</span>',
        "Escalated": "No",
    }
    embedded = re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded[1]) == {
        "quarters": ["Q1", "Q2", "Q3", "Q4"],
        "levels": ["Negative", "Neutral", "Positive"],
        "series": [
            {"name": "Agent", "values": [2, 2, 2, 2]},
            {"name": "Customer", "values": [0, 0, None, 2]},
        ],
    }
    assert (
        '<canvas id="trend-chart" role="img" aria-label="Sentiment over the call, by quarter: '
        'Agent: Positive, Positive, Positive, Positive; Customer: Negative, Negative, silent, Positive">'
    ) in page
    assert "/static/vendor/chart.umd.min.js" in page and '<table class="trend">' in page
    numbers = page.index('<summary>Show the numbers<span class="visually-hidden"> of the sentiment over')
    assert numbers < page.index('<table class="trend">')  # the table is the chart's "Show the numbers"
    # A call the analysis gave no trend has neither the chart nor Chart.js to load.
    other = client.get("/app/calls/demo-outage").text
    assert "<h3>Issues</h3>" not in other and 'id="trend-chart"' not in other
    assert "chart.umd.min.js" not in other
    assert dict(re.findall(r"<dt>(Resolved|Callback needed|Escalated)</dt><dd>(.*?)</dd>", other)) == {
        "Resolved": "No",
        "Callback needed": "Yes",
        "Escalated": '<span class="muted">not said</span>',
    }


def test_call_text_takes_its_own_direction_and_language(app: object) -> None:
    """Arabic or Hebrew turns read right to left inside the English page, and Japanese is drawn with
    Japanese glyphs, not Chinese ones: the browser needs dir="auto" and the call's lang on the call's text."""
    client = _client(app)
    _sign_in(client, "analyst")
    client.headers["Sec-Fetch-Site"] = "same-origin"
    page = client.get("/app/calls/demo-cancel-es").text
    assert '<ol class="turns" id="turns" aria-label="Transcript">' in page  # its buttons' words are English
    assert page.count('<p class="turn-text" dir="auto" lang="es">') >= 2
    assert '<section class="translation" aria-label="English translation" lang="en">' in page
    assert '<ul class="summary" dir="auto">' in page
    listing = client.get("/app/calls").text
    assert re.search(r'<input id="q" name="q" type="search" dir="auto"', listing)


def test_the_strip_marks_hold_time_and_interruptions(app: object, rt: Runtime) -> None:
    seed_held_call(rt)
    client = _client(app)
    _sign_in(client, "analyst")
    client.headers["Sec-Fetch-Site"] = "same-origin"
    page = client.get("/app/calls/held").text
    marks = re.findall(
        r'<span class="mark mark-([a-z-]+)" data-left="([0-9.]+)" data-width="[0-9.]+" title="([^"]+)"', page
    )
    assert marks == [
        ("non-talk", "16.67", "nobody talking 0:10 to 0:40"),
        ("interruption", "6.67", "customer interrupted at 0:04"),
    ]
    # Seconds with a tenth: overlaps are mostly under a few seconds, which m:ss would round to 0:00.
    assert "<dt>Both talking</dt><dd>2.0 s</dd>" in page
    assert categorise.progress(rt).finished  # seeded as the pipeline stores a call: categories evaluated


def _analyst_page(app: object, path: str) -> str:
    client = _client(app)
    _sign_in(client, "analyst")
    client.headers["Sec-Fetch-Site"] = "same-origin"
    return client.get(path).text


def test_the_call_page_says_how_its_speakers_were_told_apart(app: object, rt: Runtime) -> None:
    # A mono call transferred to a second agent: both agents are named, with how sure the words are.
    seed_transferred_call(rt)
    page = _analyst_page(app, "/app/calls/transferred")
    assert (
        "<dt>Speakers</dt><dd>3 voices told apart (clarity 0.62); agent speaker 1, speaker 3 by the words "
        "(confidence 0.97)</dd>"
    ) in page


def test_a_mono_call_without_agent_name_or_speakers_says_so(app: object, rt: Runtime) -> None:
    seed_mono_call(rt)
    assert categorise.progress(rt).finished
    page = _analyst_page(app, "/app/calls/mono")
    assert "<span>Agent: —</span>" in page  # as in the calls list; "unknown" reads as the speaker label
    legend = re.search(r'<p class="legend">(.*?)</p>', page)
    assert legend is not None and "upper row agent" not in legend[1]
    assert "speakers not told apart" in legend[1]
    bands = re.findall(r'<span class="band (band-[a-z]+) [^"]*" [^>]*title="([^"]+)"', page)
    assert bands == [("band-negative", "unknown: Negative")] * 2  # the call's sentiment, as the tooltip says


def test_calls_without_a_transcript_say_why(app: object, rt: Runtime) -> None:
    """Only a call still being processed gets a transcript "yet"; the question box says the same."""
    with rt.db.transaction() as session:
        call, _ = calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id="silent",
            source="/silent.wav",
            shown_source="silent.wav",
            details=calls.CallDetails(),
        )
        calls.set_status(session=session, call=call, status=CallStatus.no_speech)
    silent = _analyst_page(app, "/app/calls/silent")
    assert "No speech was recognised." in silent and "yet" not in silent
    assert 'id="ask-question"' not in silent  # nothing to ask about
    failed = _analyst_page(app, "/app/calls/demo-missing-recording")
    assert "No transcript: processing failed." in failed and "No transcript yet." not in failed
    client = _client(app)
    _sign_in(client, "analyst")
    asked = client.post(
        "/app/calls/demo-missing-recording/ask", data={"question": "Why?", "csrf_token": _csrf(client)}
    )
    assert asked.status_code == 200 and "No transcript: processing failed." in asked.text
    assert "yet" not in asked.text


def test_an_analyst_streams_audio_by_range_and_is_audited(app: object, rt: Runtime) -> None:
    client = _client(app)
    _sign_in(client, "analyst")
    client.headers["Sec-Fetch-Site"] = "same-origin"  # as a browser sends it from the dashboard's own pages
    page = client.get("/app/calls/demo-refund")
    assert "Sarah Miller" in page.text and page.headers["content-security-policy"].startswith("default-src")
    audio = client.get("/app/calls/demo-refund/audio", headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and len(audio.content) == 100 and audio.content[:4] == b"fLaC"
    assert audio.headers["cache-control"] == "no-store"
    with rt.db.transaction() as session:
        kinds = {
            (e.kind, e.actor) for e in session.scalars(select(Event).where(Event.actor == "user:analyst"))
        }
    assert {("transcript_viewed", "user:analyst"), ("audio_streamed", "user:analyst")} <= kinds


def test_a_call_waiting_for_its_redacted_copy_has_no_player_and_no_analysis_yet(
    app: object, rt: Runtime
) -> None:
    """Fetched, not yet transcribed: the recording must not play before redaction, so the page offers no
    player (whose audio would answer 404), and its analysis is not there to say "not said"."""
    with rt.db.transaction() as session:
        call, _ = calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id="awaiting-redaction",
            source="/fetched.flac",
            shown_source="fetched.flac",
            details=calls.CallDetails(),
        )
        call.audio_blob = calls.audio_blob_key(call.id)
        calls.set_status(session=session, call=call, status=CallStatus.fetched)
    client = _client(app)
    _sign_in(client, "analyst")
    client.headers["Sec-Fetch-Site"] = "same-origin"
    page = client.get("/app/calls/awaiting-redaction").text
    assert client.get("/app/calls/awaiting-redaction/audio").status_code == 404
    assert "<audio" not in page and "The recording plays once it is transcribed and redacted." in page
    assert "Not analysed yet." in page and "not said" not in page and "not rated" not in page
    assert "No transcript yet." in page  # being processed: it will come


def test_the_filters_show_the_numbers_as_typed(app: object) -> None:
    client = _client(app)
    _sign_in(client, "viewer")
    for path in ("/app/calls", "/app/insights"):
        page = client.get(path, params={"non_talk_above": "10", "interruptions_above": "2"}).text
        fields = r'<input id="(non_talk_above|interruptions_above)" [^>]* value="([^"]*)">'
        values = dict(re.findall(fields, page))
        assert values == {"non_talk_above": "10", "interruptions_above": "2"}


def test_a_period_that_ends_before_it_starts_is_pointed_out(app: object) -> None:
    client = _client(app)
    _sign_in(client, "viewer")
    message = "The From date is after the To date"
    for path in ("/app/calls", "/app/insights"):
        backwards = client.get(path, params={"since": "2024-05-10", "until": "2024-05-01"})
        assert backwards.status_code == 200 and message in backwards.text, path
        assert message not in client.get(path, params={"since": "2024-05-01", "until": "2024-05-01"}).text
    fragment = client.get(  # the calls list's filters swap the table only: the message comes with it
        "/app/calls",
        params={"since": "2024-05-10", "until": "2024-05-01"},
        headers={"HX-Request": "true", "HX-Target": "call-results"},
    )
    assert message in fragment.text and "<form" not in fragment.text


def test_the_last_day_a_date_field_takes_is_a_period_not_a_server_error(app: object) -> None:
    """A date picker offers up to 9999-12-31, and the day after it (where the period ends) is no date."""
    client = _client(app)
    _sign_in(client, "viewer")
    period = {"since": "2000-01-01", "until": "9999-12-31"}
    for path in ("/app/insights", "/app/insights/calls_per_day.csv"):
        assert client.get(path, params=period).status_code == 200, path
    listed = client.get("/app/calls", params=period)
    assert listed.status_code == 200 and "demo-refund" in listed.text


def test_a_nul_character_in_a_filter_is_dropped_not_a_database_error(app: object) -> None:
    client = _client(app)
    _sign_in(client, "viewer")
    for name in ("agent", "topic", "language", "category", "q"):
        response = client.get("/app/calls", params={name: "Dav\x00id" if name == "agent" else "\x00"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html"), name
    assert "demo-refund" in client.get("/app/calls", params={"agent": "Dav\x00id"}).text


def test_charts_download_as_csv(app: object) -> None:
    client = _client(app)
    _sign_in(client, "viewer")
    response = client.get("/app/insights/topics.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    # Excel reads a CSV without a byte order mark in the machine's code page: an agent named "田中" or "Анна"
    # would arrive garbled on a Japanese or Russian Windows.
    assert response.content.startswith(codecs.BOM_UTF8)
    table = response.content.decode("utf-8-sig")
    assert table.splitlines()[0] == "topic,calls" and "Duplicate charge refund,1" in table
    outcomes = client.get("/app/insights/outcomes.csv").content.decode("utf-8-sig").splitlines()
    assert outcomes[0] == "outcome,Yes,No,Not said" and outcomes[1].startswith("Resolved,1,1,")
    assert outcomes[2].startswith("Callback needed,1,0,") and outcomes[3].startswith("Escalated,0,1,")
    assert client.get("/app/insights/nonsense.csv").status_code == 404


def test_an_admin_reprocesses_a_call_and_retries_a_dead_delivery(app: object, rt: Runtime) -> None:
    client = _client(app)
    _sign_in(client, "admin")
    token = _csrf(client, "/app/operations")
    reprocessed = client.post("/app/calls/demo-missing-recording/reprocess", data={"csrf_token": token})
    assert reprocessed.status_code == 303
    with rt.db.transaction() as session:
        dead = session.scalars(select(Delivery).where(Delivery.status == "dead")).one()
        call = session.get(Call, dead.call_pk)
        assert call is not None
        queued = session.execute(text("select queue_name from procrastinate_jobs where status = 'todo'"))
        assert "fetch" in set(queued.scalars())
    retried = client.post(
        f"/app/deliveries/{dead.id}/retry", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert retried.status_code == 200 and "Delivery pending" in retried.text
    with rt.db.transaction() as session:
        assert session.get(Delivery, dead.id).status == "pending"  # type: ignore[union-attr]
        actors = set(session.scalars(select(Event.actor).where(Event.call_pk == dead.call_pk)))
    assert "user:admin" in actors


def test_an_admin_sees_how_many_deliveries_are_dead_and_retries_them_all(app: object, rt: Runtime) -> None:
    """A CRM token that expired mid-batch dead-letters every delivery after it: the page says how many (more
    than it lists) and puts them all back at once, not one button per row."""
    with rt.db.transaction() as session:
        session.execute(update(Delivery).values(status="dead", last_error="HTTP 401 INVALID_SESSION_ID"))
        dead = session.scalar(select(func.count()).select_from(Delivery))
    client = _client(app)
    _sign_in(client, "admin")
    shown = client.get("/app/operations").text
    assert f"{dead} dead" in shown and "HTTP 401 INVALID_SESSION_ID" in shown
    token = _csrf(client, "/app/operations")
    retried = client.post("/app/deliveries/retry-all", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert retried.status_code == 200 and f"{dead} deliveries queued" in retried.text
    with rt.db.transaction() as session:
        statuses = set(session.scalars(select(Delivery.status)))
        queued = session.scalar(
            text("select count(*) from procrastinate_jobs where queue_name = 'deliver' and status = 'todo'")
        )
    assert statuses == {"pending"} and queued == dead
    _sign_in(client, "analyst")
    refused = client.post("/app/deliveries/retry-all", data={"csrf_token": _csrf(client)})
    assert refused.status_code == 403


def test_an_analyst_may_not_reprocess(app: object) -> None:
    client = _client(app)
    _sign_in(client, "analyst")
    refused = client.post("/app/calls/demo-refund/reprocess", data={"csrf_token": _csrf(client)})
    assert refused.status_code == 403 and "admin role" in refused.text


def test_the_api_still_streams_audio_and_reprocesses_with_tokens(app: object, rt: Runtime) -> None:
    """The API's audio and reprocess endpoints now share their code with the dashboard."""
    with rt.db.transaction() as session:
        admin = tokens.create(session=session, name="api-admin", role=Role.admin)
        viewer = tokens.create(session=session, name="api-viewer", role=Role.viewer)
    client = _client(app)
    audio = client.get(
        "/calls/demo-outage/audio", headers={"Authorization": f"Bearer {admin}", "Range": "bytes=-10"}
    )
    assert audio.status_code == 206 and len(audio.content) == 10
    assert audio.headers["content-range"].startswith("bytes ")
    record = client.get("/calls/demo-outage", headers={"Authorization": f"Bearer {admin}"})
    # Decrypted text and audio stay out of any cache, as on the dashboard.
    assert record.status_code == 200 and record.json()["transcript"]
    assert audio.headers["cache-control"] == record.headers["cache-control"] == "no-store"
    # Neither is ever taken for a page; no HSTS over plain HTTP, where browsers ignore it anyway.
    assert audio.headers["x-content-type-options"] == record.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in record.headers
    secure = _client(app, base_url="https://callsense.example").get(
        "/calls/demo-outage", headers={"Authorization": f"Bearer {admin}"}
    )
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    refused = client.get("/calls/demo-outage/audio", headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    queued = client.post("/calls/demo-bill-de/reprocess", headers={"Authorization": f"Bearer {admin}"})
    assert queued.status_code == 202 and queued.json()["queued"] == "transcribe"
    with rt.db.transaction() as session:  # its words leave the search index with its transcript
        call = session.scalars(select(Call).where(Call.call_id == "demo-bill-de")).one()
        assert session.get(CallSearch, call.id) is None


def test_the_api_reads_a_time_without_an_offset_as_utc_whatever_the_database_zone(
    app: object, rt: Runtime
) -> None:
    """`since` and `until` without an offset are UTC, as the dashboard's days are, even where PostgreSQL's
    TimeZone setting (an external server's, or the embedded one's from the host) is another."""
    with rt.db.transaction() as session:
        viewer = tokens.create(session=session, name="zone-viewer", role=Role.viewer)
        started = session.scalars(select(Call.started_at).where(Call.call_id == "demo-refund")).one()
    assert started is not None
    naive = started.astimezone(UTC).replace(tzinfo=None)
    client, headers = _client(app), {"Authorization": f"Bearer {viewer}"}

    def listed(**params: datetime) -> list[str]:
        answer = client.get("/calls", params={**params, "limit": 200}, headers=headers)
        return [item["call_id"] for item in answer.json()["items"]]

    with _database_zone(rt, "America/New_York"):
        assert "demo-refund" in listed(since=naive - timedelta(seconds=1))
        assert "demo-refund" not in listed(since=naive + timedelta(seconds=1))
        assert "demo-refund" in listed(until=naive + timedelta(seconds=1))
        assert "demo-refund" not in listed(until=naive - timedelta(seconds=1))


@contextmanager
def _database_zone(rt: Runtime, zone: str) -> Iterator[None]:
    """PostgreSQL's TimeZone set to ``zone`` for the block, as an external server's or the host's may be."""
    with rt.db.transaction() as session:
        database = session.scalar(text("select current_database()"))
        session.execute(text(f"alter database \"{database}\" set timezone = '{zone}'"))
    rt.db.engine.dispose()  # new connections take the zone
    try:
        yield
    finally:
        with rt.db.transaction() as session:
            session.execute(text(f'alter database "{database}" reset timezone'))
        rt.db.engine.dispose()


def test_times_read_as_utc_on_the_pages_whatever_the_database_zone(app: object, rt: Runtime) -> None:
    """The pages say UTC and the date filters take UTC days, so a call at 14:00 UTC must not read 19:30
    because the database server runs in India."""
    with rt.db.transaction() as session:
        started = session.scalars(select(Call.started_at).where(Call.call_id == "demo-refund")).one()
    assert started is not None
    shown = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    with _database_zone(rt, "Asia/Kolkata"):
        listed = _analyst_page(app, "/app/calls?agent=David")
        call_page = _analyst_page(app, "/app/calls/demo-refund")
    row = re.search(r'demo-refund</a></td>\s*<td class="nowrap">([^<]+)</td>', listed)
    assert row is not None and row[1] == shown
    assert "Time (UTC)" in listed
    assert f"<span>{shown} UTC</span>" in call_page
    timeline = re.findall(r'class="event-when muted small">([^<·]+)', call_page)
    assert timeline and all(when.strip().endswith(" UTC") for when in timeline)


def test_the_api_searches_call_text_as_the_dashboard_does_each_role_its_own_text(
    app: object, rt: Runtime
) -> None:
    with rt.db.transaction() as session:
        analyst = tokens.create(session=session, name="search-analyst", role=Role.analyst)
        viewer = tokens.create(session=session, name="search-viewer", role=Role.viewer)
    client = _client(app)

    def listed(token: str, **params: str) -> dict[str, Any]:
        response = client.get("/calls", params=params, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()

    def found(token: str, words: str) -> list[str]:
        return [item["call_id"] for item in listed(token, q=words)["items"]]

    assert found(analyst, "Sarah Miller") == ["demo-refund"]  # said in the transcript
    assert found(analyst, "refunds") == ["demo-refund"]  # stemmed
    assert found(analyst, "refund -twice") == []  # web search syntax: exclusion
    # A viewer may not read transcripts, so may not probe them either: summaries and topics only.
    assert found(viewer, "Sarah Miller") == []
    assert found(viewer, "duplicate") == ["demo-refund"]
    assert listed(viewer, q="  ")["total"] == listed(viewer)["total"] > 1  # blank: no search, as on the page
    # A value PostgreSQL cannot hold is the caller's error, not a 500.
    unstorable = client.get(
        "/calls", params={"q": "re\x00fund"}, headers={"Authorization": f"Bearer {viewer}"}
    )
    assert unstorable.status_code == 422 and "NUL" in unstorable.json()["detail"]
    parameters = client.get("/openapi.json").json()["paths"]["/calls"]["get"]["parameters"]
    (q,) = [parameter for parameter in parameters if parameter["name"] == "q"]
    assert "transcript" in q["description"] and q["schema"]["anyOf"][0]["maxLength"] == 200


def test_the_api_lists_the_calls_of_several_statuses_at_once(app: object, rt: Runtime) -> None:
    with rt.db.transaction() as session:
        viewer = tokens.create(session=session, name="status-viewer", role=Role.viewer)
        rows = session.execute(select(Call.status, func.count()).group_by(Call.status))
        counted = {status: count for status, count in rows}
    client, headers = _client(app), {"Authorization": f"Bearer {viewer}"}

    def total(*statuses: str) -> int:
        answer = client.get("/calls", params=[("status", status) for status in statuses], headers=headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["total"])

    first, second, *_ = sorted(counted)  # two statuses the module's calls are in (earlier tests move some)
    assert total(first) == counted[first] and total(second) == counted[second]
    assert total(first, second) == counted[first] + counted[second]  # any of them, not the last one
    assert client.get("/calls", params={"status": "lost"}, headers=headers).status_code == 422


def test_the_api_refuses_a_non_talk_time_that_is_not_a_finite_number(app: object, rt: Runtime) -> None:
    with rt.db.transaction() as session:
        viewer = tokens.create(session=session, name="non-talk-viewer", role=Role.viewer)
    client, headers = _client(app), {"Authorization": f"Bearer {viewer}"}
    for value in ("inf", "nan", "1e400"):  # pydantic reads each as a float; 1e400 is inf
        refused = client.get("/calls", params={"non_talk_above": value}, headers=headers)
        assert refused.status_code == 422, value
        assert [(e["loc"], e["msg"]) for e in refused.json()["detail"]] == [
            (["query", "non_talk_above"], "Input should be a finite number")
        ]
    assert client.get("/calls", params={"non_talk_above": "1e9"}, headers=headers).json()["total"] == 0


def test_insights_say_what_an_empty_chart_lacks_and_show_a_missing_share_as_a_dash(
    app: object, rt: Runtime
) -> None:
    """A mono call of a named agent: its speakers are unknown, so the agent's share of the talk is missing;
    it is in no category. A period without calls says so."""
    seed_mono_call(rt, call_id="mono-named", agent="Mono-agent")
    client = _client(app)
    _sign_in(client, "viewer")
    page = client.get("/app/insights", params={"agent": "Mono-agent"}).text
    assert '<span class="kpi-value" id="kpi-calls">1</span>' in page
    rows = re.findall(r"<tr><th scope=\"row\">Mono-agent</th>(.*?)</tr>", page)
    assert rows == ['<td class="num">1</td><td class="num">—</td><td class="num">8.0</td>']
    assert page.count("None of these calls is in a category.") == 1
    assert "No calls in this period" not in page
    quiet = client.get("/app/insights", params={"since": "2001-01-01", "until": "2001-01-31"}).text
    assert "None of these calls" not in quiet and quiet.count("No calls in this period.") >= 5


def test_the_outcome_chart_counts_the_analysed_calls_only(app: object, rt: Runtime) -> None:
    """A call that failed, had no speech or waits for its analysis was never asked its outcome: it is not a
    "Not said" (the demo call whose recording is missing failed)."""
    client = _client(app)
    _sign_in(client, "viewer")
    rows = client.get("/app/insights/outcomes.csv").content.decode("utf-8-sig").splitlines()[1:]
    with rt.db.transaction() as session:
        every = session.scalar(select(func.count()).select_from(Call)) or 0
        analysed = session.scalar(select(func.count()).select_from(Analysis)) or 0
    assert 0 < analysed < every
    assert [sum(int(n) for n in row.split(",")[1:]) for row in rows] == [analysed] * 3


def test_a_bookmarked_filtered_list_opens_filtered_after_signing_in(app: object) -> None:
    """A lead's bookmark of the filtered list, opened after the session ended (12 hours), keeps its filters
    through the sign-in page."""
    client = _client(app)
    bookmark = "/app/calls?agent=David&outcome=resolved&sort=duration&dir=asc"
    to_sign_in = client.get(bookmark)
    assert to_sign_in.status_code == 303
    form = client.get(to_sign_in.headers["location"])
    next_path = re.search(r'name="next" value="([^"]+)"', form.text)
    assert next_path is not None
    signed_in = _sign_in(client, "viewer", next_path=html.unescape(next_path[1]))
    assert signed_in.headers["location"] == bookmark
    listed = client.get(signed_in.headers["location"]).text
    assert re.findall(r'class="call-link"[^>]*>([^<]+)<', listed) == ["demo-refund"]
    too_long = _client(app).get("/app/calls", params={"q": "返金" * 100, "topic": "請求" * 50})
    assert too_long.headers["location"] == "/app/sign-in?next=/app/calls"  # more than the form carries


def test_the_call_pages_calls_link_goes_back_to_the_filtered_list(app: object) -> None:
    """A lead working through a filtered, sorted list opens a call; its "Calls" link returns to that list,
    not to every call. Only this site's list is taken from the referrer."""
    client = _client(app)
    _sign_in(client, "viewer")
    filtered = "/app/calls?agent=David&sort=duration&dir=asc"

    def calls_link(referrer: str) -> str:
        page = client.get("/app/calls/demo-refund", headers={"Referer": referrer}).text
        found = re.search(r'aria-label="Breadcrumb"><a href="([^"]+)"', page)
        assert found is not None
        return html.unescape(found[1])

    assert calls_link(LOCAL + filtered) == filtered
    assert calls_link("https://evil.example" + filtered) == "/app/calls"
    assert calls_link(LOCAL + "/app/insights?agent=David") == "/app/calls"


@pytest.mark.parametrize(
    ("period", "said"),
    [
        ("since=2026-11-07&until=2026-12-06", "2026-11-07 to 2026-12-06 (UTC days)"),
        ("since=2026-11-07", "From 2026-11-07 (UTC days)"),
        ("until=2026-12-06", "Up to 2026-12-06 (UTC days)"),
    ],
)
def test_insights_say_the_period_with_one_end_open(app: object, period: str, said: str) -> None:
    """A lead who picks only a From date reads the period, not "2026-11-07 to None"."""
    page = _analyst_page(app, f"/app/insights?{period}")
    heading = re.search(r'<h1>Insights</h1>\s*<p class="muted">([^·]+)·', page)
    assert heading is not None and heading[1].strip() == said


def test_the_filtered_lists_address_holds_only_the_filters_set(app: object) -> None:
    """The address htmx puts in the bar after filtering in place is what a lead bookmarks or pastes into a
    ticket: the filters set, not every empty field of the form."""
    client = _client(app)
    _sign_in(client, "viewer")
    form = {"q": "", "since": "", "language": "", "agent": "David", "outcome": "resolved", "sort": "time"}
    fragment = client.get(
        "/app/calls",
        params={**form, "dir": "desc"},
        headers={"HX-Request": "true", "HX-Target": "call-results"},
    )
    assert fragment.headers["hx-push-url"] == "/app/calls?outcome=resolved&agent=David&sort=time&dir=desc"
    assert "hx-push-url" not in client.get("/app/calls", params=form).headers  # a whole page has its own


def test_insights_link_their_count_to_the_same_calls_in_the_list(app: object) -> None:
    """A lead reading "Calls 1" for an agent opens exactly those calls: the period and filters go along."""
    client = _client(app)
    _sign_in(client, "viewer")
    insights_page = client.get("/app/insights", params={"agent": "David", "outcome": "resolved"}).text
    counted = re.search(r'id="kpi-calls">([0-9,]+)<', insights_page)
    link = re.search(r'id="kpi-calls-list" href="([^"]+)"', insights_page)
    assert counted is not None and link is not None
    assert "since=" in link[1] and "agent=David" in link[1]
    listed = re.search(r'class="result-count"><strong>([0-9,]+)<', client.get(html.unescape(link[1])).text)
    assert listed is not None and listed[1] == counted[1] == "1"
