"""The one way in: the CLI, both webhooks and every recording source register a call here.

The source is kept encrypted exactly as given, because fetching may need the credentials in it. What people
see (the ``calls.source`` column, logs, the API and the dashboard) is ``recordings.describe(source)``: no user
name, password or query string of a URL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from callsense.backends import recordings
from callsense.calls import service as calls
from callsense.calls.models import Call, WebhookReceipt
from callsense.calls.schemas import CallStatus
from callsense.errors import WebhookReplayError

if TYPE_CHECKING:
    from callsense.runtime import Runtime


@dataclass(frozen=True)
class Ingested:
    call_pk: uuid.UUID
    created: bool  # False when this call id was known already
    status: CallStatus


def ingest(
    rt: Runtime,
    *,
    call_id: str,
    source: str,
    details: calls.CallDetails | None = None,
    webhook_id: str | None = None,
) -> Ingested:
    """Register the call (or find it, when this id was seen before), its details and, for a signed webhook,
    its receipt, in one transaction. A ``webhook_id`` received before is the sender's retry of a message
    whose answer it did not get (a timeout, a 503 after the commit) when it names the same call: found as a
    duplicate. With another call it raises ``WebhookReplayError``, and then nothing is stored."""
    with rt.db.transaction() as session:

        def register() -> tuple[Call, bool]:
            return calls.get_or_create(
                session=session,
                keyring=rt.keyring,
                call_id=call_id,
                source=source,
                shown_source=recordings.describe(source),
                details=details or calls.CallDetails(),
            )

        try:
            with session.begin_nested():
                call, created = register()
        except IntegrityError:
            # A concurrent request registered the same new call id first (PostgreSQL made this insert wait
            # for that commit): the call exists now, so this request finds it, as a duplicate would.
            call, created = register()
        if webhook_id is not None:
            receipt = insert(WebhookReceipt).values(webhook_id=webhook_id, call_pk=call.id)
            if not session.execute(
                receipt.on_conflict_do_nothing().returning(WebhookReceipt.webhook_id)
            ).first():
                seen = session.get(WebhookReceipt, webhook_id)
                if seen is None or seen.call_pk != call.id:
                    raise WebhookReplayError(f"webhook-id {webhook_id} was received before, for another call")
        return Ingested(call_pk=call.id, created=created, status=CallStatus(call.status))
