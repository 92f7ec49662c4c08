"""What a person may do to a call or a delivery, from the API or the dashboard. Audited; nothing commits.

Queueing the job that follows is the caller's, once the transaction is committed and the worker can see
what it is to work on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from callsense.calls import access, deliveries, search
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.errors import NotFoundError


@dataclass(frozen=True)
class Restart:
    call_pk: uuid.UUID
    stage: str  # the stage to queue first
    status: CallStatus


def restart(*, session: Session, call_id: str, actor: str, via: str, blobs: access.BlobReader) -> Restart:
    """Drop the call's transcript and analysis (and their words in the search index) so that it runs
    again: from transcription when its audio is stored, else from the download."""
    call = calls.lock(session=session, call_pk=calls.get(session=session, call_id=call_id).id)
    if call.audio_purged_at is not None:  # fetching it again from its source would undo the retention policy
        raise NotFoundError(
            f"the recording of call '{call_id}' was removed under the retention policy on "
            f"{call.audio_purged_at:%Y-%m-%d}; it cannot be processed again"
        )
    if call.audio_blob is not None and not _stored(blobs, call.audio_blob):
        call.audio_blob = None  # lost from the blob store (a NAS incident, a partial restore): fetched again
    stage = "transcribe" if call.audio_blob is not None else "fetch"
    call.transcript = None
    call.analysis = None
    call.generation += 1  # a stage run begun before stores nothing (``stages.superseded``)
    search.forget(session=session, call_pk=call.id)
    status = CallStatus.fetched if stage == "transcribe" else CallStatus.received
    calls.set_status(session=session, call=call, status=status)
    calls.add_event(session=session, call_pk=call.id, stage=via, kind="reprocess", actor=actor)
    return Restart(call_pk=call.id, stage=stage, status=status)


def _stored(blobs: access.BlobReader, key: str) -> bool:
    try:
        blobs.open(key).close()
    except NotFoundError:
        return False
    return True


def retry_delivery(*, session: Session, delivery_id: uuid.UUID, actor: str) -> deliveries.DeliveryView:
    """Put a dead or skipped delivery back in the outbox (its retry age starts again); a delivered one
    stays as it is. The view says whether there is a job to queue (status pending)."""
    deliveries.requeue(session=session, delivery_id=delivery_id, actor=actor)
    session.flush()
    return deliveries.view(session=session, delivery_id=delivery_id)
