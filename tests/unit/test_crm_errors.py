"""What is kept of a CRM's error response: the status, the vendor's codes and the fields named, read from
real ``httpx.Response`` objects; nothing that could be a value the CRM echoed. And how a text is cut to a
CRM's field size."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from callsense.backends.crm.base import CUT_NOTE, fit_body, fit_subject, redacted_reason, utf16_units

NUMBER = "+14155550100"
CARD = "4111111111111111"
NOTE = f"Customer gave card {CARD} to pay"


def response(status: int, body: Any) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("status", "body", "kept"),
    [
        (400, f"<html><body>Invalid phone {NUMBER}</body></html>", "HTTP 400"),  # not JSON
        (422, {"detail": f"{NUMBER} is taken"}, "HTTP 422"),  # DRF, a webhook receiver: no shape we read
        (
            400,
            [{"errorCode": f"BAD {NUMBER}", "fields": [NUMBER, "Phone"], "message": NUMBER}],
            "HTTP 400 (fields: Phone)",
        ),
        (400, {"error": {"code": NUMBER, "message": NUMBER}}, "HTTP 400"),
        (400, {"error": {"code": CARD, "message": f"note: {NOTE}"}}, "HTTP 400"),  # the posted note echoed
        (
            500,
            [{"errorCode": CARD, "fields": ["Description"], "message": NOTE}],
            "HTTP 500 (fields: Description)",
        ),
        (
            400,
            {
                "category": "VALIDATION_ERROR",
                "message": f"Property values were not valid: {NUMBER}",  # no JSON list inside
                "errors": [{"code": "INVALID_PHONE", "context": {"propertyName": ["phone", NUMBER]}}],
            },
            "HTTP 400 VALIDATION_ERROR, INVALID_PHONE (fields: phone)",
        ),
        (
            429,  # HubSpot's rate limit: which one ran out
            {"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT"}
            | {"correlationId": "5a0c2b3e-0000-4000-8000-000000000000", "policyName": "DAILY"},
            "HTTP 429 RATE_LIMIT, DAILY",
        ),
        (400, {"error": True, "errors": {"phone": [NUMBER], NUMBER: ["x"]}}, "HTTP 400 (fields: phone)"),
        (400, {"error": True, "errors": f"{NUMBER} exists"}, "HTTP 400"),
    ],
)
def test_only_names_survive(status: int, body: Any, kept: str) -> None:
    assert redacted_reason(response(status, body)) == kept


def test_a_long_list_of_fields_is_cut() -> None:
    body = [{"errorCode": "REQUIRED_FIELD_MISSING", "fields": [f"Field{n}__c" for n in range(50)]}]
    reason = redacted_reason(response(400, body))
    assert (
        reason.startswith("HTTP 400 REQUIRED_FIELD_MISSING (fields: Field0__c, ") and reason.count(",") == 9
    )


@pytest.mark.parametrize(
    ("text", "limit"),
    [("😡" * 1_500, 2_000), ("ab😡" * 900, 2_000), ("שלום " * 600, 2_000), ("😡" * 30, 2_000)],
)
def test_a_cut_fits_the_field_in_utf16_units_and_never_splits_a_character(text: str, limit: int) -> None:
    fitted = fit_body(text, limit, size=utf16_units)
    assert utf16_units(fitted) <= limit
    assert fitted == text or (fitted.endswith(CUT_NOTE) and text.startswith(fitted.removesuffix(CUT_NOTE)))
    assert fit_subject("📞" * 150, 200, size=utf16_units) == "📞" * 99 + "…"
