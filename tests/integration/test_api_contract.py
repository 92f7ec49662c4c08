"""The API as a generated client sees it (the ASGI app in-process, real PostgreSQL, the dashboard's seeded
calls): every answer, refusals included, matches the schema /openapi.json declares for its status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls.schemas import CallRecord
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.server import openapi_document
from tests.integration.test_categories_api import _headers, client, rt

__all__ = ["client", "rt"]  # the fixtures of the categories API's tests, reused
NOT_JSON = {"200", "206", "416"}  # the audio and the metrics: bytes and text


@pytest.fixture(scope="module")
def bearer(rt: Runtime) -> dict[Role, dict[str, str]]:
    return {role: _headers(rt, role) for role in Role}


def _declared(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON schema of one answer, its references resolvable."""
    response = document["paths"][path][method]["responses"][str(status)]
    schema: dict[str, Any] = dict(response["content"]["application/json"]["schema"])
    return {**schema, "components": document["components"]}


def test_every_refusal_outside_the_webhooks_declares_its_body() -> None:
    document = openapi_document()
    undeclared = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        if not path.startswith("/webhooks/")
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if not status.startswith(("2", "3"))  # a redirect is no refusal: its body is empty
        and status not in NOT_JSON
        and "application/json" not in response.get("content", {})
    ]
    assert undeclared == []


def test_every_route_behind_a_token_declares_the_answer_to_a_database_outage() -> None:
    """Looking up the token needs the database: each such route answers 503 (Retry-After) while it is down."""
    document = openapi_document()
    silent = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "security" in operation and "503" not in operation["responses"]
    ]
    assert silent == []


@pytest.mark.parametrize(
    ("method", "path", "template", "role", "body", "status"),
    [
        ("GET", "/calls", "/calls", None, None, 401),
        ("GET", "/deliveries", "/deliveries", Role.analyst, None, 403),
        ("GET", "/calls/nobody", "/calls/{call_id}", Role.viewer, None, 404),
        ("GET", "/categories/nothing", "/categories/{name}", Role.admin, None, 404),
        (
            "POST",
            "/deliveries/6f0c2a4e-0000-4000-8000-000000000000/retry",  # none such; the same in every worker
            "/deliveries/{delivery_id}/retry",
            Role.admin,
            None,
            404,
        ),
        ("POST", "/calls/demo-refund/ask", "/calls/{call_id}/ask", Role.analyst, "refund?", 415),
        ("PUT", "/categories/Bad", "/categories/{name}", Role.admin, {"rule": "said ="}, 422),
        ("PUT", "/categories/Bad", "/categories/{name}", Role.admin, {"description": 1}, 422),
        (
            "PUT",
            "/categories/Bad",
            "/categories/{name}",
            Role.admin,
            {"rule": "said = 'x'", "name": "x"},
            422,
        ),
        ("POST", "/calls/demo-refund/hold", "/calls/{call_id}/hold", Role.admin, {"reasons": "T-1"}, 422),
        ("POST", "/calls/demo-refund/ask", "/calls/{call_id}/ask", Role.analyst, {"questions": "?"}, 422),
        ("GET", "/calls?limit=0", "/calls", Role.viewer, None, 422),
        ("GET", "/calls?cursor=not-one", "/calls", Role.viewer, None, 422),
        ("GET", "/calls?since=2026-02-01T00:00:00Z&until=2026-01-01", "/calls", Role.viewer, None, 422),
        ("GET", "/calls/a%00b", "/calls/{call_id}", Role.viewer, None, 422),
        ("GET", "/deliveries?destination=a%00b", "/deliveries", Role.admin, None, 422),
        ("GET", "/deliveries?cursor=not-one", "/deliveries", Role.admin, None, 422),
        ("GET", "/deliveries?destination=nowhere", "/deliveries", Role.admin, None, 422),
        ("POST", "/deliveries/retry-all?destination=nowhere", "/deliveries/retry-all", Role.admin, None, 422),
        ("DELETE", "/categories/a%00b", "/categories/{name}", Role.admin, None, 422),
    ],
)
def test_refusals_match_their_declared_schema(
    client: TestClient,
    bearer: dict[Role, dict[str, str]],
    method: str,
    path: str,
    template: str,
    role: Role | None,
    body: object,
    status: int,
) -> None:
    headers = bearer[role] if role else {}
    sent = {"content": body} if isinstance(body, str) else {"json": body}
    answer = client.request(method, path, headers=headers, **sent)
    assert answer.status_code == status, answer.text
    schema = _declared(client.get("/openapi.json").json(), template, method.lower(), status)
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(answer.json())]
    assert errors == []


def test_every_json_body_outside_the_webhooks_declares_that_it_takes_no_other_key() -> None:
    """A generated client (and a person reading the document) sees that a key the body does not declare is
    refused. The recording webhook's notice is the exception: recorders send fields of their own."""
    document = openapi_document()
    schemas = document["components"]["schemas"]
    bodies = {
        # The webhook's schema is inline (openapi_extra), the others are components.
        f"{method.upper()} {path}": schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if (
            schema := operation.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
    }
    open_bodies = [name for name, schema in bodies.items() if schema.get("additionalProperties") is not False]
    assert open_bodies == ["POST /webhooks/recording"]
    assert {"PUT /categories/{name}", "POST /calls/{call_id}/ask", "POST /calls/{call_id}/hold"} < set(bodies)


@pytest.mark.parametrize(
    ("method", "path", "role", "body", "misspelt"),
    [
        (
            "PUT",
            "/categories/Typo",
            Role.admin,
            {"rule": {"said": ["refund"]}, "desciption": "Refunds"},
            "desciption",
        ),
        ("POST", "/calls/demo-refund/hold", Role.admin, {"reason": "T-1", "release": True}, "release"),
        ("POST", "/calls/demo-refund/release", Role.admin, {"reason": "T-1", "held": False}, "held"),
        (
            "POST",
            "/calls/demo-refund/ask",
            Role.analyst,
            {"question": "Refund?", "sensitive": True},
            "sensitive",
        ),
    ],
)
def test_a_key_the_body_does_not_declare_is_refused_naming_it_and_nothing_is_done(
    client: TestClient,
    rt: Runtime,
    bearer: dict[Role, dict[str, str]],
    method: str,
    path: str,
    role: Role,
    body: dict[str, object],
    misspelt: str,
) -> None:
    """Ignored, a misspelt key was saved as if it had not been sent: the category without its description."""
    with rt.db.transaction() as session:
        events_before = len(
            calls.events(session=session, call_pk=calls.get(session=session, call_id="demo-refund").id)
        )
    answer = client.request(method, path, json=body, headers=bearer[role])
    assert answer.status_code == 422, answer.text
    assert [(issue["loc"], issue["type"]) for issue in answer.json()["detail"]] == [
        (["body", misspelt], "extra_forbidden")
    ]
    assert client.get("/categories/Typo", headers=bearer[Role.admin]).status_code == 404
    with rt.db.transaction() as session:
        events = calls.events(session=session, call_pk=calls.get(session=session, call_id="demo-refund").id)
    assert len(events) == events_before  # no hold, release or question on the call's trail


def test_a_destination_filter_names_a_configured_destination_or_one_the_outbox_holds(
    client: TestClient, bearer: dict[Role, dict[str, str]]
) -> None:
    """None is configured here: the seeded deliveries' destinations were since removed from the settings, and
    their rows stay listable by name; a name found in neither is refused, not listed as no deliveries."""
    admin = bearer[Role.admin]
    removed = client.get("/deliveries", params={"destination": "hubspot"}, headers=admin)
    assert removed.status_code == 200 and [item["destination"] for item in removed.json()["items"]] == [
        "hubspot"
    ]
    unknown = client.get("/deliveries", params={"destination": "hubspots"}, headers=admin)
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": "no destination named 'hubspots' is configured (destinations: none)"}
    # Retrying needs the destination's settings: a removed one's dead deliveries cannot be sent.
    retried = client.post("/deliveries/retry-all", params={"destination": "hubspot"}, headers=admin)
    assert retried.status_code == 422 and "destinations: none" in retried.json()["detail"]


def test_a_call_in_the_list_declares_the_enums_of_the_record() -> None:
    """A generated client types the list's sentiment and emotion as the record's enums, not any string."""
    schemas = openapi_document()["components"]["schemas"]

    def declared_type(model: str, field: str) -> dict[str, Any]:
        schema: dict[str, Any] = schemas[model]["properties"][field]
        return {key: value for key, value in schema.items() if key not in {"description", "title"}}

    for field in ("sentiment", "emotion", "status", "outcome"):
        assert declared_type("CallSummary", field) == declared_type("CallRecord", field), field


def test_a_cursor_pages_on_without_repeating_a_call_when_a_newer_one_arrives(
    client: TestClient, rt: Runtime, bearer: dict[Role, dict[str, str]]
) -> None:
    """An export pages through the calls while new ones are received: the next page by offset repeats the
    last call of the page before; by the page's cursor it goes on where that page stopped."""
    first = client.get("/calls", params={"limit": 2}, headers=bearer[Role.viewer]).json()
    with rt.db.transaction() as session:
        calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id="arrived-meanwhile",
            source="upload",
            shown_source="upload",
            details=calls.CallDetails(started_at=datetime.now(UTC)),
        )
    by_offset = client.get("/calls", params={"limit": 2, "offset": 2}, headers=bearer[Role.viewer]).json()
    assert by_offset["items"][0]["call_id"] == first["items"][-1]["call_id"]  # why offsets do not do

    listed = [item["call_id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = client.get("/calls", params={"limit": 2, "cursor": cursor}, headers=bearer[Role.viewer]).json()
        listed += [item["call_id"] for item in page["items"]]
        cursor = page["next_cursor"]
    everything = client.get("/calls", headers=bearer[Role.viewer]).json()
    assert listed == [
        item["call_id"] for item in everything["items"] if item["call_id"] != "arrived-meanwhile"
    ]
    assert len(listed) == first["total"] and everything["next_cursor"] is None

    refused = client.get("/calls", params={"cursor": "not-a-cursor"}, headers=bearer[Role.viewer])
    assert refused.status_code == 422 and "cursor" in refused.json()["detail"]


def test_a_delivery_cursor_pages_on_without_repeating_one_queued_meanwhile(
    client: TestClient, rt: Runtime, bearer: dict[Role, dict[str, str]]
) -> None:
    """GET /deliveries pages as GET /calls does: by the page's cursor, a delivery queued between two pages
    neither repeats the last one of the page before (as an offset does) nor shows up late."""
    admin = bearer[Role.admin]
    first = client.get("/deliveries", params={"limit": 1}, headers=admin).json()
    with rt.db.transaction() as session:
        call_pk = calls.get(session=session, call_id="demo-outage").id
        deliveries.add_outbox(session=session, call_pk=call_pk, destinations=["queued-meanwhile"])
    by_offset = client.get("/deliveries", params={"limit": 1, "offset": 1}, headers=admin).json()
    assert by_offset["items"][0]["id"] == first["items"][-1]["id"]  # why offsets do not do

    listed = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = client.get("/deliveries", params={"limit": 1, "cursor": cursor}, headers=admin)
        schema = _declared(client.get("/openapi.json").json(), "/deliveries", "get", 200)
        assert list(jsonschema_rs.validator_for(schema).iter_errors(page.json())) == []
        listed += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    everything = client.get("/deliveries", headers=admin).json()
    assert listed == [item["id"] for item in everything["items"] if item["destination"] != "queued-meanwhile"]
    assert len(listed) == first["total"] >= 2 and everything["next_cursor"] is None

    refused = client.get("/deliveries", params={"cursor": "not-a-cursor"}, headers=admin)
    assert refused.status_code == 422 and "cursor" in refused.json()["detail"]


def test_a_viewers_record_says_null_for_the_transcript_it_withholds(
    client: TestClient, bearer: dict[Role, dict[str, str]]
) -> None:
    """null, as for the translation: withheld; "" would say nothing was said. Both records match the schema
    the OpenAPI document and the record's JSON Schema declare."""
    schema = _declared(client.get("/openapi.json").json(), "/calls/{call_id}", "get", 200)
    read = {role: client.get("/calls/demo-refund", headers=bearer[role]).json() for role in Role}
    for role, record in read.items():
        assert list(jsonschema_rs.validator_for(schema).iter_errors(record)) == [], role
    assert read[Role.viewer]["transcript"] is None and read[Role.viewer]["segments"] == []
    assert read[Role.analyst]["transcript"].startswith("Agent: ")
    declared = CallRecord.model_json_schema()["properties"]["transcript"]
    assert {"type": "null"} in declared["anyOf"]


@pytest.mark.parametrize(
    ("typed", "as_stored"),
    [
        ({"agent": "  david "}, {"agent": "David"}),
        ({"language": "ES"}, {"language": "es"}),
        ({"topic": " internet "}, {"topic": "internet"}),
    ],
)
def test_a_typed_filter_finds_what_the_stored_value_finds(
    client: TestClient, bearer: dict[Role, dict[str, str]], typed: dict[str, str], as_stored: dict[str, str]
) -> None:
    """An API client's filter is compared as the dashboard's form sends it: without the spaces around it, the
    agent's name and the language code in any case (each found nothing before, silently)."""

    def listed(params: dict[str, str]) -> list[str]:
        page = client.get("/calls", params=params, headers=bearer[Role.viewer]).json()
        return [item["call_id"] for item in page["items"]]

    assert listed(typed) == listed(as_stored) != []
