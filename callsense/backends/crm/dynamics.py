"""Microsoft Dynamics 365 / Dataverse (online or on-premises): a ``phonecall`` activity via the Web API.

Idempotency: the phone call's primary key is ours, derived from the delivery id (a UUIDv5), and it is created
with ``PATCH /phonecalls(<id>)`` and ``If-None-Match: *``: the first try creates it, any later try gets 412
Precondition Failed, which means "already there". The contact is found by ``telephone1`` / ``mobilephone``.
Authentication: an OAuth bearer token (Entra ID for online; ADFS for on-premises with claims auth).
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import timedelta
from typing import Any

from callsense.backends.crm.base import (
    CRMDestination,
    Outgoing,
    Receipt,
    fit_body,
    fit_subject,
    json_of,
    send,
    utf16_units,
)
from callsense.config.deliveries import NoMatch
from callsense.errors import CRMUnavailableError

DEFAULT_VERSION = "v9.2"
SUBJECT_LIMIT = 200  # phonecall.subject
DESCRIPTION_LIMIT = 2_000  # phonecall.description as Dataverse ships it (a memo of 2,000 characters)
_NAMESPACE = uuid.UUID("5f0e7d57-3c52-4c1a-9a55-2d8c6f3e1b10")
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")
_HEADERS = {"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"}


def activity_id(outgoing: Outgoing) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, str(outgoing.delivery_id))


def odata_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DynamicsDestination(CRMDestination):
    def _url(self, path: str) -> str:
        version = self.settings.api_version or DEFAULT_VERSION
        return f"{self.settings.base_url.rstrip('/')}/api/data/{version}/{path}"

    def deliver(self, outgoing: Outgoing) -> Receipt:
        contact = self._contact(outgoing)
        if contact is None and self.settings.no_match is NoMatch.skip:
            return Receipt(external_id=None, skipped="no Dynamics contact matches the call")
        record: dict[str, Any] = {
            "subject": fit_subject(outgoing.subject, SUBJECT_LIMIT, size=utf16_units),
            "description": fit_body(outgoing.body, DESCRIPTION_LIMIT, size=utf16_units),
        }
        if outgoing.direction in {"inbound", "outbound"}:
            record["directioncode"] = outgoing.direction == "outbound"  # true: outgoing call
        # When the call took place (a phone call without it is dated when it reached the CRM).
        record["actualstart"] = outgoing.occurred_at.isoformat()
        if outgoing.duration_s is not None:
            record["actualdurationminutes"] = math.ceil(outgoing.duration_s / 60)
            ended = outgoing.occurred_at + timedelta(seconds=outgoing.duration_s)
            record["actualend"] = ended.isoformat()
        if "customer_number" in outgoing.fields and outgoing.customer_number:
            record["phonenumber"] = outgoing.customer_number
        if contact is not None:
            record["regardingobjectid_contact@odata.bind"] = f"/contacts({contact})"
        key = activity_id(outgoing)
        send(
            self.client,
            "PATCH",
            self._url(f"phonecalls({key})"),
            json=record,
            headers={**_HEADERS, "If-None-Match": "*"},
            expected=frozenset({412}),  # created by an earlier try
        )
        return Receipt(external_id=str(key))

    def _find_contact(self, number: str) -> str | None:
        literal = odata_literal(number)
        found = json_of(
            send(
                self.client,
                "GET",
                self._url("contacts"),
                params={
                    "$select": "contactid",
                    "$filter": f"telephone1 eq {literal} or mobilephone eq {literal}",
                    "$top": "1",
                },
                headers=_HEADERS,
            )
        )
        return str(found["value"][0]["contactid"]) if found.get("value") else None

    def _create_contact(self, number: str) -> str:
        response = send(
            self.client,
            "POST",
            self._url("contacts"),
            json={"lastname": number, "telephone1": number},
            headers=_HEADERS,
        )
        match = _ENTITY_ID.search(response.headers.get("OData-EntityId", ""))
        if match is None:
            raise CRMUnavailableError("Dynamics created a contact but sent no OData-EntityId header")
        return match.group(1)
