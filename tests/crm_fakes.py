"""Loopback stand-ins for HubSpot, Salesforce and Dynamics 365 that record every request and keep the records
they were asked to create, so tests can count them. Error bodies follow each vendor's documented shape
(HubSpot's ``Error`` model, Salesforce's error list, Dataverse's OData error); ``fail_next`` scripts outages.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeCRM:
    """Subclasses answer ``route``; ``fail_next`` replies come first, one per request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.fail_next: list[Reply] = []
        self.records: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def route(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def answer(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            if self.fail_next:
                return self.fail_next.pop(0)
            return self.route(request)

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in {"POST", "PATCH"} and "search" not in r.path]


@contextmanager
def serving(crm: FakeCRM) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            reply = crm.answer(request)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def utf16_units(text: str) -> int:
    """How HubSpot (Java), Salesforce (Java) and Dataverse (.NET) measure a field: UTF-16 code units, so an
    emoji outside the Basic Multilingual Plane counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _new_id() -> str:
    return str(uuid.uuid4().int)[:11]


class FakeHubSpot(FakeCRM):
    """``/crm/v3/objects/{calls,contacts}`` create and search (EQ filters only)."""

    def __init__(self, contacts: dict[str, str]) -> None:
        super().__init__()
        self.contacts = contacts  # id -> phone

    @staticmethod
    def error(status: int, message: str, category: str) -> Reply:
        from hubspot.crm.objects.calls import ApiClient
        from hubspot.crm.objects.calls.models import Error

        model = Error(message=message, correlation_id=str(uuid.uuid4()), category=category)
        return Reply(status, ApiClient().sanitize_for_serialization(model))

    @staticmethod
    def invalid_property(name: str, error: str, message: str) -> Reply:
        """HubSpot's answer to a property value it refuses: the details are a JSON list inside the message."""
        detail = [{"isValid": False, "message": message, "error": error, "name": name}]
        return FakeHubSpot.error(
            400, f"Property values were not valid: {json.dumps(detail)}", "VALIDATION_ERROR"
        )

    def route(self, request: Recorded) -> Reply:
        match = re.fullmatch(r"/crm/v3/objects/(calls|contacts)(/search)?", request.path)
        if request.headers.get("authorization") != "Bearer pat-hubspot":
            return self.error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if match is None or request.method != "POST":
            return self.error(404, "not found", "OBJECT_NOT_FOUND")
        kind, search = match.groups()
        if search:
            hits = []
            for group in request.body["filterGroups"]:
                for wanted in group["filters"]:
                    if kind == "contacts":
                        hits += [i for i, phone in self.contacts.items() if phone == wanted["value"]]
                    else:
                        hits += [
                            i
                            for i, rec in self.records.items()
                            if rec["properties"].get(wanted["propertyName"]) == wanted["value"]
                        ]
            return Reply(
                200, {"total": len(hits), "results": [{"id": i, "properties": {}} for i in hits[:1]]}
            )
        too_long = [name for name, value in request.body["properties"].items() if utf16_units(value) > 65_536]
        if too_long:  # HubSpot keeps at most 65,536 characters in a property value
            return self.error(400, f"Property values were not valid: {too_long}", "VALIDATION_ERROR")
        new = _new_id()
        if kind == "contacts":
            self.contacts[new] = request.body["properties"]["phone"]
        else:
            self.records[new] = request.body
        return Reply(201, {"id": new, "properties": request.body["properties"], "archived": False})


class FakeSalesforce(FakeCRM):
    """The REST API paths simple-salesforce uses: ``query/``, ``search/``, ``sobjects/<type>/[<id>]``."""

    LIMITS: ClassVar[dict[str, int]] = {"Subject": 255, "Description": 32_000}  # Task fields, in characters

    def __init__(self, contacts: dict[str, str], version: str = "60.0") -> None:
        super().__init__()
        self.contacts = contacts
        self.prefix = f"/services/data/v{version}/"

    @staticmethod
    def error(status: int, message: str, code: str, fields: list[str] | None = None) -> Reply:
        return Reply(status, [{"message": message, "errorCode": code, "fields": fields or []}])

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != "Bearer sf-session":
            return self.error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        path = request.path.removeprefix(self.prefix)
        if path == "query/":
            wanted = re.search(r"CallObject = '((?:[^'\\]|\\.)*)'", request.query["q"])
            assert wanted, request.query["q"]
            value = re.sub(r"\\(.)", r"\1", wanted.group(1))
            hits = [{"Id": i, **rec} for i, rec in self.records.items() if rec.get("CallObject") == value]
            return Reply(200, {"totalSize": len(hits), "done": True, "records": hits})
        if path == "search/":
            term = re.search(r"FIND \{(.*)\} IN PHONE FIELDS", request.query["q"])
            assert term, request.query["q"]
            number = re.sub(r"\\(.)", r"\1", term.group(1))
            hits = [
                {"Id": i, "attributes": {"type": "Contact"}} for i, p in self.contacts.items() if p == number
            ]
            return Reply(200, {"searchRecords": hits})
        created = re.fullmatch(r"sobjects/(Task|Contact)/", path)
        sent = request.body or {}
        too_long = [name for name, size in self.LIMITS.items() if utf16_units(sent.get(name, "")) > size]
        if created and too_long:
            return self.error(400, "data value too large", "STRING_TOO_LONG", too_long)
        if created and request.method == "POST":
            new = ("00T" if created.group(1) == "Task" else "003") + _new_id().ljust(15, "A")
            if created.group(1) == "Contact":
                self.contacts[new] = request.body["Phone"]
            else:
                self.records[new] = request.body
            return Reply(201, {"id": new, "success": True, "errors": []})
        read = re.fullmatch(r"sobjects/Task/(\w+)", path)
        if read and read.group(1) in self.records:
            return Reply(
                200, {"attributes": {"type": "Task"}, "Id": read.group(1), **self.records[read.group(1)]}
            )
        return self.error(404, "The requested resource does not exist", "NOT_FOUND")


class FakeDynamics(FakeCRM):
    """Dataverse Web API: ``contacts`` query and create, ``phonecalls(<id>)`` upsert (If-None-Match aware)."""

    def __init__(self, contacts: dict[str, str]) -> None:
        super().__init__()
        self.contacts = contacts
        self.prefix = "/api/data/v9.2/"

    @staticmethod
    def error(status: int, code: str, message: str) -> Reply:
        return Reply(status, {"error": {"code": code, "message": message}})

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != "Bearer dyn-token":
            return Reply(401, None, {"WWW-Authenticate": "Bearer"})
        path = request.path.removeprefix(self.prefix)
        if path == "contacts" and request.method == "GET":
            number = re.search(r"telephone1 eq '((?:[^']|'')*)'", request.query["$filter"])
            assert number, request.query
            value = number.group(1).replace("''", "'")
            hits = [{"contactid": i} for i, p in self.contacts.items() if p == value]
            return Reply(200, {"value": hits})
        if path == "contacts" and request.method == "POST":
            new = str(uuid.uuid4())
            self.contacts[new] = request.body["telephone1"]
            base = request.headers["host"]
            return Reply(204, None, {"OData-EntityId": f"http://{base}{self.prefix}contacts({new})"})
        upsert = re.fullmatch(r"phonecalls\(([0-9a-f-]{36})\)", path)
        if upsert and request.method == "PATCH":
            key = upsert.group(1)
            for name, size in {"subject": 200, "description": 2_000}.items():  # as Dataverse ships them
                if utf16_units(request.body.get(name, "")) > size:
                    return self.error(
                        400, "0x80044331", f"The length of the '{name}' attribute exceeded {size}"
                    )
            if key in self.records and request.headers.get("if-none-match") == "*":
                return self.error(412, "0x80040237", "A record with matching key values already exists.")
            self.records[key] = request.body
            return Reply(204, None, {"OData-EntityId": f"{self.prefix}phonecalls({key})"})
        return self.error(404, "0x80060888", "Resource not found for the segment")
