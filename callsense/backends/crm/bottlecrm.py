"""BottleCRM (open-source, self-hosted: PyPI ``django-crm``): a call interaction on the customer's contact.

BottleCRM keeps ``external_id`` for its own connectors and does not take it from the API, so idempotency is a
look-up before create: the body ends with a reference line naming the call, and before posting we list the
contact's interactions and reuse the one carrying that reference. The token (``bcrm_pat_...``) needs
``interactions:write`` and ``contacts:write`` to post a call on a contact, and ``interactions:read`` and
``contacts:read`` for the two look-ups (BottleCRM's write scopes do not imply read).
"""

from __future__ import annotations

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
)

_PAGE = 200
_BODY_LIMIT = 10_000  # BottleCRM's limit on an interaction body
_SUBJECT_LIMIT = 200


def reference(outgoing: Outgoing) -> str:
    return f"[callsense call {outgoing.call_id}]"


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


class BottleCRMDestination(CRMDestination):
    def deliver(self, outgoing: Outgoing) -> Receipt:
        contact = self._contact(outgoing)
        if contact is None:
            return Receipt(external_id=None, skipped="no BottleCRM contact matches the call")
        existing = self._existing(contact, outgoing)
        if existing is not None:
            return Receipt(external_id=existing)
        payload: dict[str, Any] = {
            "kind": "call",
            "occurred_at": outgoing.occurred_at.isoformat(),
            "subject": fit_subject(outgoing.subject, _SUBJECT_LIMIT),
            "body": fit_body(outgoing.body, _BODY_LIMIT, reference=reference(outgoing)),
            "contact": contact,
        }
        if outgoing.direction in {"inbound", "outbound"}:
            payload["direction"] = outgoing.direction
        if outgoing.duration_s is not None:
            payload["duration_seconds"] = round(outgoing.duration_s)
        return Receipt(
            external_id=created_id(send(self.client, "POST", self._url("/api/interactions/"), json=payload))
        )

    def _existing(self, contact: str, outgoing: Outgoing) -> str | None:
        marker = reference(outgoing)
        offset = 0
        while True:
            page = json_of(
                send(
                    self.client,
                    "GET",
                    self._url("/api/interactions/"),
                    params={"contact": contact, "limit": _PAGE, "offset": offset},
                )
            )
            rows = page.get("interactions", [])
            for row in rows:
                if row.get("kind") == "call" and marker in (row.get("body") or ""):
                    return str(row["id"])
            offset += len(rows)
            if not rows or offset >= int(page.get("count", 0)):
                return None

    def _find_contact(self, number: str) -> str | None:
        wanted = digits(number)
        found = json_of(
            send(self.client, "GET", self._url("/api/contacts/"), params={"phone": number, "limit": 10})
        )
        for row in found.get("results", []):
            if wanted and wanted in {digits(row.get("phone") or ""), digits(row.get("phone_e164") or "")}:
                return str(row["id"])
        return None

    def _create_contact(self, number: str) -> str:
        return created_id(
            send(
                self.client,
                "POST",
                self._url("/api/contacts/"),
                json={"first_name": "Caller", "last_name": number, "phone": number},
            )
        )
