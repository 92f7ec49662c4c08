"""Categories over the JSON API (the ASGI app in-process, real PostgreSQL, a real worker running the
re-evaluation jobs): admins list, create, replace and delete; a bad rule is a 422 naming the problem; others
get 403; a change is audited and re-evaluates the stored calls, as one made on the dashboard. The operations
page and the metrics show the categories queue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callsense.calls.models import Event
from callsense.config import Settings
from callsense.config.categories import parse_categories
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.conftest import _fresh_database
from tests.dashboard_seed import seed
from tests.integration.test_categories_web import LOCAL, PASSWORD, _signed_in, _work

# One category of the settings file: read-only over the API.
CONFIGURED = parse_categories([{"name": "Long call", "rule": {"duration_s": {"above": 10_000}}}])
METRICS_TOKEN = "scraper-token-for-the-tests"


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    for url in _fresh_database(embedded_server_url):
        data_dir: Path = tmp_path_factory.mktemp("categories-api")
        settings = Settings(
            data_dir=data_dir, database_url=url, categories=CONFIGURED, metrics={"token": METRICS_TOKEN}
        )
        runtime = open_runtime(settings)
        seed(runtime)
        with runtime.db.transaction() as session:
            accounts.create_user(session=session, username="admin", role=Role.admin, password=PASSWORD)
        yield runtime
        runtime.db.close()


@pytest.fixture(scope="module")
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt, tasks.build_app(rt), worker_concurrency=0), base_url=LOCAL) as client:
        yield client


@pytest.fixture(scope="module")
def admin(rt: Runtime) -> dict[str, str]:
    return _headers(rt, Role.admin)


def _headers(rt: Runtime, role: Role) -> dict[str, str]:
    with rt.db.transaction() as session:
        token = tokens.create(session=session, name=f"categories-{role.value}", role=role)
    return {"Authorization": f"Bearer {token}"}


def _matches(client: TestClient, name: str, headers: dict[str, str]) -> list[str]:
    listed = client.get("/calls", params={"category": name}, headers=headers).json()
    return [item["call_id"] for item in listed["items"]]


def test_only_admins_reach_the_categories(client: TestClient, rt: Runtime) -> None:
    analyst = _headers(rt, Role.analyst)
    assert client.get("/categories").status_code == 401
    for method, path in (
        ("GET", "/categories"),
        ("GET", "/categories/-/reevaluation"),
        ("GET", "/categories/Long call"),
        ("PUT", "/categories/Refund given"),
        ("DELETE", "/categories/Refund given"),
    ):
        answer = client.request(method, path, headers=analyst, json={"rule": {"said": ["refund"]}})
        assert answer.status_code == 403, (method, path)
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/categories/{name}"]) == {"get", "put", "delete"}
    assert {"200", "201", "403"} <= set(paths["/categories/{name}"]["put"]["responses"])
    assert "/categories" in paths and "/categories/-/reevaluation" in paths


def test_a_category_put_over_the_api_reevaluates_the_stored_calls(
    client: TestClient, rt: Runtime, admin: dict[str, str]
) -> None:
    listed = client.get("/categories", headers=admin).json()
    assert [(item["name"], item["defined_in"]) for item in listed["items"]] == [("Long call", "settings")]
    assert listed["reevaluation"] == {"done": 4, "total": 4, "finished": True}  # seeded with these

    bad_toml = client.put("/categories/Refund given", json={"rule": "said ="}, headers=admin)
    assert bad_toml.status_code == 422 and "the rule is not valid TOML" in bad_toml.json()["detail"]
    bad_rule = client.put(
        "/categories/Refund given", json={"rule": {"said": "refund", "speaker": "boss"}}, headers=admin
    )
    assert bad_rule.status_code == 422
    assert bad_rule.json()["detail"].startswith(
        "category 'Refund given': rule.said.speaker: Input should be 'agent' or 'customer'"
    )
    settings_one = client.put("/categories/long CALL", json={"rule": {"said": ["x"]}}, headers=admin)
    assert settings_one.status_code == 422 and "the settings file defines 'Long call'" in settings_one.text
    assert client.get("/categories/-/reevaluation", headers=admin).json()["finished"]  # nothing changed

    # The TOML of the settings file, as text; then replaced by the same language as a JSON object.
    created = client.put(
        "/categories/Refund given",
        json={"description": "Agent granted one", "rule": 'said = ["full refund"]\nspeaker = "agent"'},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["rule"] == {"said": ["full refund"], "speaker": "agent"}
    assert created.json()["defined_in"] == "dashboard" and created.json()["updated_by"] == "categories-admin"
    waiting = client.get("/categories/-/reevaluation", headers=admin).json()
    assert waiting == {"done": 0, "total": 4, "finished": False}
    _work(rt)
    assert client.get("/categories/-/reevaluation", headers=admin).json()["finished"]
    assert _matches(client, "Refund given", admin) == ["demo-refund"]

    replaced = client.put(
        "/categories/Refund given",
        json={"rule": {"said": ["full refund"], "speaker": "customer"}},
        headers=admin,
    )
    assert replaced.status_code == 200
    assert replaced.json()["in_words"] == "customer said 'full refund'" and replaced.json()["calls"] == 1
    _work(rt)
    assert _matches(client, "Refund given", admin) == []  # the agent said it, not the customer
    one = client.get("/categories/Refund given", headers=admin).json()
    assert one["calls"] == 0 and one["description"] == ""
    assert client.get("/categories/refund GIVEN", headers=admin).json() == one  # names ignore case

    with rt.db.transaction() as session:
        audited = session.scalars(select(Event).where(Event.stage == "categories").order_by(Event.at)).all()
    assert [(e.kind, e.detail, e.actor) for e in audited] == [
        ("saved", "Refund given", "categories-admin"),
        ("saved", "Refund given", "categories-admin"),
    ]


def test_deleting_over_the_api(client: TestClient, rt: Runtime, admin: dict[str, str]) -> None:
    created = client.put("/categories/Agent refund", json={"rule": {"said": ["refund"]}}, headers=admin)
    assert created.is_success
    _work(rt)
    assert _matches(client, "Agent refund", admin) == ["demo-refund"]
    # Names ignore case, and the spaces around them, as a PUT's name does.
    assert client.get("/categories/%20agent refund%20", headers=admin).json()["name"] == "Agent refund"
    assert client.delete("/categories/AGENT REFUND%20", headers=admin).status_code == 204
    assert _matches(client, "Agent refund", admin) == []  # at once, before any job ran
    assert client.get("/categories/Agent refund", headers=admin).status_code == 404
    assert client.delete("/categories/Agent refund", headers=admin).status_code == 404
    assert client.delete("/categories/Long call", headers=admin).status_code == 404  # the settings' own
    _work(rt)
    assert client.get("/categories/-/reevaluation", headers=admin).json()["finished"]


def test_a_category_named_reevaluation_is_read_by_its_name(
    client: TestClient, rt: Runtime, admin: dict[str, str]
) -> None:
    """The progress is under /categories/-/, which no name begins with; its former path answers a category of
    that name when there is one, else leads older clients on to the progress (307)."""
    former = client.get("/categories/reevaluation", headers=admin, follow_redirects=False)
    assert former.status_code == 307 and former.headers["location"].endswith("/categories/-/reevaluation")
    assert (
        client.get("/categories/reevaluation", headers=admin).json()
        == client.get("/categories/-/reevaluation", headers=admin).json()
    )
    assert client.get("/categories/Reevaluation x", headers=admin).status_code == 404  # others: no redirect

    created = client.put("/categories/Reevaluation", json={"rule": {"said": ["again"]}}, headers=admin)
    assert created.status_code == 201, created.text
    for path in ("/categories/reevaluation", "/categories/REEVALUATION"):
        assert client.get(path, headers=admin).json()["name"] == "Reevaluation", path
    progress = client.get("/categories/-/reevaluation", headers=admin).json()
    assert set(progress) == {"done", "total", "finished"}
    assert client.delete("/categories/reevaluation", headers=admin).status_code == 204
    _work(rt)


def _categories_card(client: TestClient) -> str:
    page = _signed_in(client.app, "admin").get("/app/operations").text
    card = re.search(r'<span class="kpi-label">categories</span>(.*?)</div>', page, re.S)
    assert card is not None
    return " ".join(re.sub(r"<[^>]+>", " ", card[1]).split())


def _scraped(client: TestClient) -> str:
    return client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text


def test_the_operations_page_and_the_metrics_show_the_categories_queue(
    client: TestClient, rt: Runtime, admin: dict[str, str]
) -> None:
    assert _categories_card(client).startswith("0 waiting · 0 running · 0 failed jobs all 4 analysed calls")
    created = client.put("/categories/Said sorry", json={"rule": {"said": ["sorry"]}}, headers=admin)
    assert created.is_success
    assert _categories_card(client) == (
        "1 waiting · 0 running · 0 failed jobs re-evaluated 0 of 4 calls ( Categories )"
    )
    scraped = _scraped(client)
    assert 'callsense_queue_depth{stage="categories"} 1.0' in scraped
    assert "callsense_categories_stale_calls 4.0" in scraped
    _work(rt)
    assert _categories_card(client).startswith("0 waiting")
    assert "callsense_categories_stale_calls 0.0" in _scraped(client)
