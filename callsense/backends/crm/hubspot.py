"""HubSpot: a call engagement (``POST /crm/v3/objects/calls``) associated with the contact (type 194).

Idempotency: every call we create carries our call id in a custom call property (``call_id_property``,
default ``callsense_call_id``); before creating, we search calls by that property and reuse a hit. HubSpot's
search index lags writes by a few seconds, which the queue's first retry wait (10 s by default) covers.
Authentication: a private-app token with the ``crm.objects.contacts.read/write`` scopes (and calls, which
HubSpot grants with contacts).
"""

from __future__ import annotations

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

CALL_TO_CONTACT = 194  # HUBSPOT_DEFINED association type "call to contact"
PROPERTY_LIMIT = 65_536  # HubSpot's limit on a property value, in characters


class HubSpotDestination(CRMDestination):
    def _search(self, kind: str, filter_groups: list[dict[str, Any]]) -> str | None:
        body = {"filterGroups": filter_groups, "properties": ["hs_object_id"], "limit": 1}
        found = json_of(send(self.client, "POST", self._url(f"/crm/v3/objects/{kind}/search"), json=body))
        results = found.get("results") or []
        return str(results[0]["id"]) if results else None

    def deliver(self, outgoing: Outgoing) -> Receipt:
        prop = self.settings.call_id_property
        existing = self._search(
            "calls", [{"filters": [{"propertyName": prop, "operator": "EQ", "value": outgoing.call_id}]}]
        )
        if existing is not None:
            return Receipt(external_id=existing)
        contact = self._contact(outgoing)
        if contact is None and self.settings.no_match is NoMatch.skip:
            return Receipt(external_id=None, skipped="no HubSpot contact matches the call")
        properties: dict[str, str] = {
            "hs_timestamp": outgoing.occurred_at.isoformat(),
            "hs_call_title": fit_subject(outgoing.subject, PROPERTY_LIMIT, size=utf16_units),
            "hs_call_body": fit_body(outgoing.body, PROPERTY_LIMIT, size=utf16_units),
            "hs_call_status": "COMPLETED",
            prop: outgoing.call_id,
        }
        if outgoing.direction in {"inbound", "outbound"}:
            properties["hs_call_direction"] = outgoing.direction.upper()
        if outgoing.duration_s is not None:
            properties["hs_call_duration"] = str(round(outgoing.duration_s * 1000))
        payload: dict[str, Any] = {"properties": properties}
        if contact is not None:
            payload["associations"] = [
                {
                    "to": {"id": contact},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CALL_TO_CONTACT}
                    ],
                }
            ]
        return Receipt(
            external_id=created_id(
                send(self.client, "POST", self._url("/crm/v3/objects/calls"), json=payload)
            )
        )

    def _find_contact(self, number: str) -> str | None:
        return self._search(
            "contacts",
            [
                {"filters": [{"propertyName": name, "operator": "EQ", "value": number}]}
                for name in ("phone", "mobilephone")
            ],
        )

    def _create_contact(self, number: str) -> str:
        body = {"properties": {"phone": number}}
        return created_id(send(self.client, "POST", self._url("/crm/v3/objects/contacts"), json=body))
