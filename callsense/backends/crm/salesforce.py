"""Salesforce: a completed call ``Task`` (REST API, ``/services/data/vXX.X/sobjects/Task/``).

Idempotency: ``CallObject`` holds our call id; before inserting we query
``SELECT Id FROM Task WHERE CallObject = '<call id>'`` and reuse a hit (SOQL reads its own writes, so a
retry right after a crash finds the Task). The contact is found with a SOSL search over phone fields.
Authentication: an OAuth access token (from any flow the operator runs: JWT bearer, client credentials),
sent as a bearer token.
"""

from __future__ import annotations

import math
import re
from typing import Any

from callsense.backends.crm.base import (
    CRMDestination,
    Outgoing,
    Receipt,
    created_id,
    fit_body,
    fit_subject,
    json_of,
    send,
    utf16_units,
)
from callsense.config.deliveries import NoMatch

DEFAULT_VERSION = "v60.0"
SUBJECT_LIMIT = 255  # Task.Subject
DESCRIPTION_LIMIT = 32_000  # Task.Description (Comments), a long text area
_SOSL_RESERVED = re.compile(r"""([?&|!{}\[\]()^~*:\\"'+\-])""")


def soql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sosl_term(value: str) -> str:
    return _SOSL_RESERVED.sub(r"\\\1", value)


class SalesforceDestination(CRMDestination):
    def _url(self, path: str) -> str:
        version = self.settings.api_version or DEFAULT_VERSION
        return f"{self.settings.base_url.rstrip('/')}/services/data/{version}/{path}"

    def deliver(self, outgoing: Outgoing) -> Receipt:
        query = f"SELECT Id FROM Task WHERE CallObject = {soql_literal(outgoing.call_id)} LIMIT 1"
        found = json_of(send(self.client, "GET", self._url("query/"), params={"q": query}))
        if found.get("records"):
            return Receipt(external_id=str(found["records"][0]["Id"]))
        contact = self._contact(outgoing)
        if contact is None and self.settings.no_match is NoMatch.skip:
            return Receipt(external_id=None, skipped="no Salesforce contact matches the call")
        task: dict[str, Any] = {
            "Subject": fit_subject(outgoing.subject, SUBJECT_LIMIT, size=utf16_units),
            "Description": fit_body(outgoing.body, DESCRIPTION_LIMIT, size=utf16_units),
            "TaskSubtype": "Call",
            "Status": "Completed",
            "CallObject": outgoing.call_id[:255],
            "ActivityDate": outgoing.occurred_at.date().isoformat(),
        }
        if outgoing.direction in {"inbound", "outbound"}:
            task["CallType"] = outgoing.direction.capitalize()
        if outgoing.duration_s is not None:
            task["CallDurationInSeconds"] = math.ceil(outgoing.duration_s)
        if contact is not None:
            task["WhoId"] = contact
        return Receipt(
            external_id=created_id(send(self.client, "POST", self._url("sobjects/Task/"), json=task))
        )

    def _find_contact(self, number: str) -> str | None:
        search = f"FIND {{{sosl_term(number)}}} IN PHONE FIELDS RETURNING Contact(Id) LIMIT 1"
        found = json_of(send(self.client, "GET", self._url("search/"), params={"q": search}))
        records = found.get("searchRecords") or []
        return str(records[0]["Id"]) if records else None

    def _create_contact(self, number: str) -> str:
        body = {"LastName": number, "Phone": number}
        return created_id(send(self.client, "POST", self._url("sobjects/Contact/"), json=body))
