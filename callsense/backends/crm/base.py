"""The CRM port: a destination takes one call, as its mapping allows it to be seen, and returns the CRM's id.

Every adapter must be idempotent per call: delivering the same ``Outgoing`` twice (a retry after a crash
between "the CRM accepted" and "we recorded it") leaves one record in the CRM. How each CRM does that is in
its module and in docs/delivery.md.

HTTP errors are translated here, once for all adapters: timeouts, connection failures, 408, 429, 5xx and
Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED`` become ``CRMUnavailableError`` (with the CRM's ``Retry-After``),
every other 4xx ``CRMRejectedError``. Their
message names the HTTP status, the CRM's error codes and the fields it complains about, never the CRM's own
wording: CRMs echo submitted values ("+1415... is not a valid phone number"), and the reason is stored and
shown (see ``redacted_reason``).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from callsense.backends.http_status import ERROR_NAME, is_retryable, retry_after_s
from callsense.config.deliveries import ContactLookup, DestinationSettings, NoMatch
from callsense.errors import CRMRejectedError, CRMUnavailableError

# An error code or a field name: one word of letters, digits and ``_.:-``. A phone number ("+1..."), a
# sentence or a quoted value does not pass, so a vendor that puts a value where a name belongs leaks nothing.
_NAMES_KEPT = 10
_THROTTLE_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})  # a 403 that means "later", see ``_throttled``
# What a cut body ends with, so whoever reads the CRM record knows there is more (and where).
CUT_NOTE = "\n[...] cut to fit this CRM field; the whole analysis is in callsense"


@dataclass(frozen=True)
class Outgoing:
    """One analysed call as a destination may see it: only the mapped ``fields``, the rendered subject and
    body, and what is needed to find the contact (sent only as a look-up query)."""

    delivery_id: uuid.UUID
    call_id: str
    occurred_at: datetime
    fields: dict[str, Any]
    subject: str
    body: str
    customer_number: str | None
    contact_id: str | None

    @property
    def duration_s(self) -> float | None:
        value = self.fields.get("duration")
        return float(value) if value is not None else None

    @property
    def direction(self) -> str | None:
        value = self.fields.get("direction")
        return str(value).lower() if value else None


@dataclass(frozen=True)
class Receipt:
    """What the CRM holds now: its record id (None when nothing was sent) and why nothing was, if so."""

    external_id: str | None
    skipped: str | None = None


class Destination(Protocol):
    def deliver(self, outgoing: Outgoing) -> Receipt: ...


class Destinations(Protocol):
    """Where the deliver stage gets the adapter for a configured destination."""

    def connect(self, settings: DestinationSettings) -> AbstractContextManager[Destination]:
        """The adapter for ``settings``, with its connection; closed when the block ends."""
        ...


@dataclass
class CRMDestination:
    """A CRM reached over HTTP that files each call on a contact. Subclasses say how to find a contact by
    phone number and how to create one; which of the two happens is decided here, once for all CRMs."""

    client: httpx.Client
    settings: DestinationSettings

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    def _contact(self, outgoing: Outgoing) -> str | None:
        """The call's contact: named in the webhook metadata, found by phone number, or created."""
        lookup = self.settings.contact_lookup
        if lookup is ContactLookup.metadata and outgoing.contact_id:
            return outgoing.contact_id
        if lookup is ContactLookup.phone and outgoing.customer_number:
            found = self._find_contact(outgoing.customer_number)
            if found is not None:
                return found
        if self.settings.no_match is not NoMatch.create:
            return None
        if not outgoing.customer_number:
            raise CRMRejectedError("no contact matches and the call has no customer number to create one")
        return self._create_contact(outgoing.customer_number)

    def _find_contact(self, number: str) -> str | None:
        raise NotImplementedError

    def _create_contact(self, number: str) -> str:
        raise NotImplementedError


def utf16_units(text: str) -> int:
    """A text's size as HubSpot and Salesforce (Java) and Dataverse (.NET) measure their field limits: UTF-16
    code units, in which an emoji outside the Basic Multilingual Plane counts twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _cut(text: str, limit: int, note: str, tail: str, size: Callable[[str], int]) -> str:
    if size(text) + size(tail) <= limit:
        return text + tail
    room = limit - size(note) - size(tail)
    end = min(room, len(text))  # no character is under one unit: ``room`` characters fill the room or more
    excess = size(text[:end]) - room
    while excess > 0:
        end -= 1
        excess -= size(text[end])
    return text[:end].rstrip() + note + tail


def fit_body(text: str, limit: int, *, reference: str = "", size: Callable[[str], int] = len) -> str:
    """``text`` within a CRM text field of ``limit`` (measured by ``size``: characters, or ``utf16_units``),
    ending with ``reference`` (a line the idempotency look-up finds) whatever is cut; a cut says so
    (``CUT_NOTE``). The cut falls between characters, never inside one (an emoji, an Arabic or Chinese
    letter)."""
    return _cut(text, limit, CUT_NOTE, f"\n\n{reference}" if reference else "", size)


def fit_subject(text: str, limit: int, *, size: Callable[[str], int] = len) -> str:
    """A one-line subject within ``limit``, ending with "…" where it was cut."""
    return _cut(text, limit, "…", "", size)


@dataclass
class _Said:
    """The error codes and field names read from an error body, in order, once each."""

    codes: dict[str, None] = field(default_factory=dict)
    fields: dict[str, None] = field(default_factory=dict)

    def add_codes(self, values: Any) -> None:
        self.codes.update(dict.fromkeys(_names(values)))

    def add_fields(self, values: Any) -> None:
        self.fields.update(dict.fromkeys(_names(values)))


def _names(values: Any) -> list[str]:
    """The strings of ``values`` (one or a list) that are names."""
    return [
        v
        for v in (values if isinstance(values, list) else [values])
        if isinstance(v, str) and ERROR_NAME.fullmatch(v)
    ]


def _read_hubspot(body: dict[str, Any], said: _Said) -> None:
    # A rate limit says which one in ``errorType`` and ``policyName`` (SECONDLY, DAILY): a delivery that gave
    # up after a day of 429s then tells the admin the daily API limit ran out.
    said.add_codes([body.get(key) for key in ("category", "subCategory", "errorType", "policyName")])
    for item in body.get("errors") or []:  # {"code", "context": {"propertyName": [...]}}
        if isinstance(item, dict):
            said.add_codes(item.get("code"))
            context = item.get("context")
            said.add_fields(context.get("propertyName") if isinstance(context, dict) else None)
    # Property validation packs a JSON list into the message: "Property values were not valid:
    # [{"isValid":false,"message":"...","error":"INVALID_OPTION","name":"hs_call_direction"}]".
    message = body.get("message")
    if isinstance(message, str) and "[" in message:
        try:
            items = json.loads(message[message.index("[") :])
        except ValueError:
            items = None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                said.add_codes(item.get("error"))
                said.add_fields(item.get("name"))


def _read(body: Any, said: _Said) -> None:
    """Codes and field names from the error shapes the adapters meet; no message or value is read out."""
    if isinstance(body, list):  # Salesforce: [{"message", "errorCode", "fields": [...]}]
        for item in body:
            if isinstance(item, dict):
                said.add_codes(item.get("errorCode"))
                said.add_fields(item.get("fields"))
    elif not isinstance(body, dict):
        return
    elif isinstance(body.get("error"), dict):  # Dynamics (OData): {"error": {"code", "message"}}
        said.add_codes(body["error"].get("code"))
    elif "category" in body or "errorType" in body:  # HubSpot: {"category", "subCategory", "errors", ...}
        _read_hubspot(body, said)
    elif body.get("error") is True and isinstance(body.get("errors"), dict):
        said.add_fields(list(body["errors"]))  # BottleCRM: {"error": true, "errors": {field: [messages]}}
    # Anything else (a webhook receiver's own body, DRF's {"detail": ...}) says nothing we keep.


def _said(response: httpx.Response) -> _Said:
    said = _Said()
    with contextlib.suppress(ValueError):  # not JSON: the status alone
        _read(response.json(), said)
    return said


def redacted_reason(response: httpx.Response) -> str:
    """``HTTP 400 INVALID_FIELD (fields: CallType)``: what a CRM's error response says, without anything
    it may have echoed of what we sent."""
    said = _said(response)
    reason = f"HTTP {response.status_code}"
    if said.codes:
        reason += " " + ", ".join(list(said.codes)[:_NAMES_KEPT])
    if said.fields:
        reason += f" (fields: {', '.join(list(said.fields)[:_NAMES_KEPT])})"
    return reason


def _throttled(response: httpx.Response) -> bool:
    """A 4xx that means "too many requests, try later" in the CRM's own words: Salesforce answers an org
    over its rolling 24-hour API limit with 403 ``REQUEST_LIMIT_EXCEEDED``, not 429."""
    return response.status_code == 403 and not _THROTTLE_CODES.isdisjoint(_said(response).codes)


def send(
    client: httpx.Client, method: str, url: str, *, expected: frozenset[int] = frozenset(), **kwargs: Any
) -> httpx.Response:
    """One request, with errors translated into callsense's retryable / permanent ones; a status in
    ``expected`` is returned as it is (Dynamics' 412 "already exists")."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise CRMUnavailableError(f"{method} {url}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise CRMUnavailableError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status in expected:
        return response
    if is_retryable(status) or _throttled(response):
        raise CRMUnavailableError(
            f"{method} {url}: {redacted_reason(response)}",
            retry_after=retry_after_s(response),
            status=status,
        )
    if status >= 400:
        raise CRMRejectedError(f"{method} {url}: {redacted_reason(response)}", status=status)
    return response


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise CRMUnavailableError(f"the CRM answered {response.status_code} without JSON") from exc


def created_id(response: httpx.Response, key: str = "id") -> str:
    """The id of the record a create made. A CRM (or a gateway in front of it) that answers 2xx with an error
    body or without the id filed nothing we can name: refused, with what the body says, so the delivery is
    dead-lettered with a reason instead of failing the job with none."""
    body = json_of(response)
    value = body.get(key) if isinstance(body, dict) else None
    if value in (None, ""):
        raise CRMRejectedError(
            f"{response.request.method} {response.request.url}: {redacted_reason(response)}: "
            "the answer names no record",
            status=response.status_code,
        )
    return str(value)
