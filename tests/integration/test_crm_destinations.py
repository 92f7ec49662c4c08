"""The HubSpot, Salesforce and Dynamics adapters against loopback stand-ins (``tests/crm_fakes.py``).

Each request is checked against the vendor's own client models (``hubspot-api-client``), read back through
the vendor's client (``simple-salesforce``) or against the field lists of issue 4; repeats make no second
record; the vendors' error responses become our retryable / permanent errors with their reasons."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from callsense.backends.crm import build_destination, http_client
from callsense.backends.crm.base import Outgoing
from callsense.config.deliveries import DestinationSettings
from callsense.errors import CRMRejectedError, CRMUnavailableError
from tests.crm_fakes import (
    FakeCRM,
    FakeDynamics,
    FakeHubSpot,
    FakeSalesforce,
    Reply,
    serving,
    utf16_units,
)
from tests.servers import trickling

PHONE = "+14155550100"
CONTACT = {"hubspot": "501", "salesforce": "003000000000001AAA", "dynamics": str(uuid.uuid4())}
TOKENS = {"hubspot": "pat-hubspot", "salesforce": "sf-session", "dynamics": "dyn-token"}
FIELDS = [
    "call_id",
    "timestamp",
    "duration",
    "direction",
    "summary",
    "topic",
    "sentiment",
    "emotion",
    "transcript",
]
BODY = "{summary}\nTopic: {topic}\nSentiment: {sentiment}\nEmotion: {emotion}\nTranscript:\n{transcript}"


def outgoing(call_id: str = "call-42", **fields: Any) -> Outgoing:
    mapped = {
        "call_id": call_id,
        "timestamp": "2026-11-20T09:30:00+00:00",
        "duration": 95.0,
        "direction": "inbound",
        "summary": ["Customer was charged twice."],
        "topic": "Duplicate charge refund",
        "sentiment": "Negative",
        "emotion": "Frustrated",
        "transcript": "Agent: Hello\nCustomer: I was charged twice.",
        **fields,
    }
    return Outgoing(
        delivery_id=uuid.uuid4(),
        call_id=call_id,
        occurred_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        fields=mapped,
        subject=f"Call {call_id}: Duplicate charge refund",
        body="- Customer was charged twice.\nTopic: Duplicate charge refund\nSentiment: Negative\n"
        "Emotion: Frustrated\nTranscript:\nAgent: Hello\nCustomer: I was charged twice.",
        customer_number=PHONE,
        contact_id=None,
    )


@pytest.fixture(params=["hubspot", "salesforce", "dynamics"])
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def fake_for(kind: str, contacts: dict[str, str] | None = None) -> FakeCRM:
    known = {CONTACT[kind]: PHONE} if contacts is None else contacts
    return {"hubspot": FakeHubSpot, "salesforce": FakeSalesforce, "dynamics": FakeDynamics}[kind](known)


@pytest.fixture
def crm(vendor: str) -> Iterator[tuple[FakeCRM, str]]:
    fake = fake_for(vendor)
    with serving(fake) as url:
        yield fake, url


def destination(kind: str, url: str, **overrides: Any) -> DestinationSettings:
    values = {
        "name": kind,
        "kind": kind,
        "base_url": url,
        "token": TOKENS[kind],
        "fields": FIELDS,
        "body_template": BODY,
        **overrides,
    }
    return DestinationSettings.model_validate(values)


def deliver(kind: str, url: str, item: Outgoing, **overrides: Any) -> str | None:
    settings = destination(kind, url, **overrides)
    with http_client(settings) as client:  # as the deliver stage builds it
        return build_destination(settings, client).deliver(item).external_id


def hubspot_model(data: dict[str, Any], name: str, module: str = "calls") -> None:
    """``data`` is exactly what the HubSpot client's model serialises: no unknown or mistyped key."""
    import importlib

    api = importlib.import_module(f"hubspot.crm.objects.{module}")
    client = api.ApiClient()

    class Response:
        def __init__(self) -> None:
            self.data = json.dumps(data)

    model = client.deserialize(Response(), name)
    assert client.sanitize_for_serialization(model) == data


def test_hubspot_call_carries_the_issue_fields_and_matches_the_client_models() -> None:
    fake = FakeHubSpot({CONTACT["hubspot"]: PHONE})
    with serving(fake) as url:
        external_id = deliver("hubspot", url, outgoing())
    searches = [r for r in fake.requests if r.path.endswith("/search")]
    for search in searches:
        hubspot_model(search.body, "PublicObjectSearchRequest")
    [create] = fake.writes()
    assert create.path == "/crm/v3/objects/calls" and create.headers["authorization"] == "Bearer pat-hubspot"
    hubspot_model(create.body, "SimplePublicObjectInputForCreate")
    properties = create.body["properties"]
    assert properties == {
        "hs_timestamp": "2026-11-20T09:30:00+00:00",
        "hs_call_title": "Call call-42: Duplicate charge refund",
        "hs_call_body": outgoing().body,
        "hs_call_direction": "INBOUND",
        "hs_call_duration": "95000",
        "hs_call_status": "COMPLETED",
        "callsense_call_id": "call-42",
    }
    for text in ("Customer was charged twice", "Duplicate charge refund", "Negative", "I was charged twice"):
        assert text in properties["hs_call_body"]
    assert create.body["associations"] == [
        {"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}
    ]
    assert external_id in fake.records


def test_salesforce_task_is_read_back_through_simple_salesforce() -> None:
    fake = FakeSalesforce({CONTACT["salesforce"]: PHONE})
    with serving(fake) as url:
        external_id = deliver("salesforce", url, outgoing("call-'quoted'"))
        [create] = fake.writes()
        assert create.path == "/services/data/v60.0/sobjects/Task/"
        assert set(create.body) == {
            "Subject",
            "Description",
            "TaskSubtype",
            "Status",
            "CallObject",
            "ActivityDate",
            "CallType",
            "CallDurationInSeconds",
            "WhoId",
        }
        sf = Salesforce(instance_url=url, session_id="sf-session", version="60.0", session=_PlainHTTP())
        found = sf.query("SELECT Id FROM Task WHERE CallObject = 'call-\\'quoted\\''")
        assert [row["Id"] for row in found["records"]] == [external_id]
        task = sf.Task.get(external_id)
    assert task["TaskSubtype"] == "Call" and task["Status"] == "Completed"
    assert task["CallType"] == "Inbound" and task["CallDurationInSeconds"] == 95
    assert task["CallObject"] == "call-'quoted'" and task["WhoId"] == CONTACT["salesforce"]
    assert task["Subject"] == "Call call-'quoted': Duplicate charge refund"
    assert "Duplicate charge refund" in task["Description"] and task["ActivityDate"] == "2026-11-20"


class _PlainHTTP(requests.Session):
    """simple-salesforce always builds https URLs; the stand-in speaks plain HTTP on loopback."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().request(method, str(url).replace("https://", "http://", 1), *args, **kwargs)


def test_dynamics_phonecall_has_the_issue_fields_and_odata_headers() -> None:
    fake = FakeDynamics({CONTACT["dynamics"]: PHONE})
    fields = [*FIELDS, "customer_number"]
    with serving(fake) as url:
        external_id = deliver("dynamics", url, outgoing(customer_number=PHONE), fields=fields)
    [upsert] = fake.writes()
    assert upsert.method == "PATCH" and upsert.path == f"/api/data/v9.2/phonecalls({external_id})"
    assert upsert.headers["if-none-match"] == "*" and upsert.headers["odata-version"] == "4.0"
    assert upsert.body == {
        "subject": "Call call-42: Duplicate charge refund",
        "description": outgoing().body,
        "directioncode": False,  # inbound
        "phonenumber": PHONE,
        "actualdurationminutes": 2,
        # When the call took place, not when it reached the CRM (hours later after an outage).
        "actualstart": "2026-11-20T09:30:00+00:00",
        "actualend": "2026-11-20T09:31:35+00:00",
        "regardingobjectid_contact@odata.bind": f"/contacts({CONTACT['dynamics']})",
    }


def test_dynamics_leaves_the_number_out_unless_mapped() -> None:
    fake = FakeDynamics({CONTACT["dynamics"]: PHONE})
    with serving(fake) as url:
        deliver("dynamics", url, outgoing())
    [upsert] = fake.writes()
    assert "phonenumber" not in upsert.body


def test_a_repeated_delivery_makes_no_second_record(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    fake, url = crm
    item = outgoing()
    first = deliver(vendor, url, item)
    second = deliver(vendor, url, item)  # as after a crash between "accepted" and "recorded"
    assert first == second and list(fake.records) == [first]


def test_no_matching_contact_creates_one_when_asked(vendor: str) -> None:
    fake = fake_for(vendor, contacts={})
    with serving(fake) as url:
        deliver(vendor, url, outgoing(), no_match="create", fields=[*FIELDS, "customer_number"])
    assert list(fake.contacts.values()) == [PHONE]  # type: ignore[attr-defined]
    assert len(fake.records) == 1


def test_no_matching_contact_is_skipped_or_logged_unattached(vendor: str) -> None:
    fake = fake_for(vendor, contacts={})
    with serving(fake) as url:
        assert deliver(vendor, url, outgoing(), no_match="skip") is None
        assert fake.records == {}
        deliver(vendor, url, outgoing(), no_match="unattached")
    [record] = fake.records.values()
    assert not {"associations", "WhoId", "regardingobjectid_contact@odata.bind"} & set(record)


def test_the_contact_id_can_come_from_the_webhook_metadata(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    fake, url = crm
    item = outgoing()
    item = Outgoing(**{**item.__dict__, "contact_id": CONTACT[vendor], "customer_number": None})
    deliver(vendor, url, item, contact_lookup="metadata")
    assert not any("contacts" in r.path or r.path.endswith("search/") for r in fake.requests)
    assert len(fake.records) == 1


ERRORS = {
    "hubspot": FakeHubSpot.invalid_property(
        "hs_call_direction", "INVALID_OPTION", "'SIDEWAYS' was not one of the allowed options"
    ),
    "salesforce": FakeSalesforce.error(
        400, "No such column 'CallType' on sobject of type Task", "INVALID_FIELD", ["CallType"]
    ),
    "dynamics": FakeDynamics.error(
        400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'phonecalls'"
    ),
}


# The status, the vendor's codes and the fields named: never the vendor's message, which may echo values.
REASONS = {
    "hubspot": "HTTP 400 VALIDATION_ERROR, INVALID_OPTION (fields: hs_call_direction)",
    "salesforce": "HTTP 400 INVALID_FIELD (fields: CallType)",
    "dynamics": "HTTP 400 0x80048d19",
}


def test_a_field_error_is_permanent_and_keeps_the_crms_reason(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    fake, url = crm
    fake.fail_next = [ERRORS[vendor]] * 5
    with pytest.raises(CRMRejectedError) as refused:
        deliver(vendor, url, outgoing(), contact_lookup="none")
    assert refused.value.status == 400
    assert str(refused.value).endswith(": " + REASONS[vendor])
    assert "SIDEWAYS" not in str(refused.value) and "No such column" not in str(refused.value)
    assert fake.records == {}


def test_the_salesforce_error_shape_is_the_one_simple_salesforce_reads() -> None:
    fake = FakeSalesforce({})
    fake.fail_next = [ERRORS["salesforce"]]
    with serving(fake) as url:
        sf = Salesforce(instance_url=url, session_id="sf-session", version="60.0", session=_PlainHTTP())
        with pytest.raises(SalesforceMalformedRequest) as raised:
            sf.Task.create({"CallType": "Inbound"})
    assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_bad_credentials_are_permanent(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    _, url = crm
    with pytest.raises(CRMRejectedError) as refused:
        deliver(vendor, url, outgoing(), token="expired")
    assert refused.value.status == 401


def test_throttling_is_retryable_and_keeps_retry_after(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    fake, url = crm
    fake.fail_next = [Reply(429, {"message": "You have reached your secondly limit."}, {"Retry-After": "7"})]
    with pytest.raises(CRMUnavailableError) as throttled:
        deliver(vendor, url, outgoing())
    assert throttled.value.retry_after == 7 and throttled.value.status == 429
    fake.fail_next = [Reply(503, {"message": "down for maintenance"})]
    with pytest.raises(CRMUnavailableError) as down:
        deliver(vendor, url, outgoing())
    assert down.value.retry_after is None and down.value.status == 503
    assert fake.records == {}
    assert deliver(vendor, url, outgoing()) in fake.records  # and then it is back


def test_an_unreachable_crm_is_retryable() -> None:
    with serving(FakeHubSpot({})) as url:
        pass  # the server is gone: connection refused
    with pytest.raises(CRMUnavailableError):
        deliver("hubspot", url, outgoing())


def test_retry_after_may_be_an_http_date() -> None:
    from email.utils import format_datetime

    fake = FakeHubSpot({})
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)
    fake.fail_next = [Reply(503, {"message": "maintenance"}, {"Retry-After": when})]
    with serving(fake) as url, pytest.raises(CRMUnavailableError) as down:
        deliver("hubspot", url, outgoing())
    assert down.value.retry_after is not None and 90 <= down.value.retry_after <= 120


def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout() -> None:
    """Each read comes in time, the whole answer does not: the delivery job must not hang on it."""
    started = time.monotonic()
    with trickling(seconds=4) as url, pytest.raises(CRMUnavailableError, match="timed out") as slow:
        deliver("hubspot", url, outgoing(), timeout_s=1)
    assert time.monotonic() - started < 2 and slow.value.retryable


def test_request_timeout_and_408_are_retryable() -> None:
    class Slow(FakeHubSpot):
        def route(self, request: Any) -> Reply:
            time.sleep(1)
            return super().route(request)

    with serving(Slow({})) as url, pytest.raises(CRMUnavailableError) as slow:
        deliver("hubspot", url, outgoing(), timeout_s=0.2)
    assert "timed out" in str(slow.value)
    fake = FakeHubSpot({})
    fake.fail_next = [Reply(408, {"message": "Request Timeout"})]
    with serving(fake) as url, pytest.raises(CRMUnavailableError) as late:
        deliver("hubspot", url, outgoing())
    assert late.value.status == 408


# Where each CRM keeps the body and how many characters its field holds.
BODY_FIELDS = {
    "hubspot": ("hs_call_body", 65_536),
    "salesforce": ("Description", 32_000),
    "dynamics": ("description", 2_000),
}


def _body(vendor: str, record: dict[str, Any]) -> str:
    name = BODY_FIELDS[vendor][0]
    return str(record["properties"][name] if vendor == "hubspot" else record[name])


def test_a_body_over_the_crms_field_size_is_cut_and_says_so(vendor: str, crm: tuple[FakeCRM, str]) -> None:
    """A long transcript in several scripts and emoji: filed, cut on a character, the cut said."""
    fake, url = crm
    said = "Customer: مرحبا، تم خصم المبلغ مرتين 😡😡😡 请退款 — I was charged twice.\n" * 1_200
    item = Outgoing(**{**outgoing().__dict__, "body": said, "subject": "Call 📞 " + "ש" * 300})
    external_id = deliver(vendor, url, item)
    body = _body(vendor, fake.records[str(external_id)])
    assert utf16_units(body) <= BODY_FIELDS[vendor][1] < len(said)  # an emoji counts twice there
    assert body.endswith("[...] cut to fit this CRM field; the whole analysis is in callsense")
    kept = body.split("\n[...]")[0]
    assert said.startswith(kept) and kept.startswith("Customer: مرحبا")


def test_salesforce_over_its_daily_api_limit_is_retried_not_dead_lettered() -> None:
    """Salesforce answers an org over its API request limit with 403 REQUEST_LIMIT_EXCEEDED: the limit is a
    rolling 24 hours, so the calls of that day must wait and go, not all land in the dead letters."""
    fake = FakeSalesforce({CONTACT["salesforce"]: PHONE})
    fake.fail_next = [FakeSalesforce.error(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")]
    with serving(fake) as url:
        with pytest.raises(CRMUnavailableError) as throttled:
            deliver("salesforce", url, outgoing())
        assert throttled.value.status == 403 and str(throttled.value).endswith(
            "HTTP 403 REQUEST_LIMIT_EXCEEDED"
        )
        fake.fail_next = [FakeSalesforce.error(403, "insufficient access rights", "INSUFFICIENT_ACCESS")]
        with pytest.raises(CRMRejectedError):  # any other 403 is still final
            deliver("salesforce", url, outgoing())
        assert deliver("salesforce", url, outgoing()) in fake.records
