"""Erasure of one call on request (a data-subject request).

Erasing locks the call's row first: a stage in the middle of a transaction on it finishes, and a stage that
comes later finds the call gone (``CallGoneError``) and ends quietly. Then the recording leaves the blob
store and the row leaves the database with everything that hangs on it (``calls.retention.delete_call``),
in one transaction; one event survives, naming the call id, who, when and why, and the CRM records the
call was filed as (to be erased there too), never what was said. Once committed, the data-key table is
vacuumed, so that the key's old row version is removed from it. Erasing an erased call reports the first
erasure; a held call is refused, except by a restore erasing again what was erased before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from callsense import metrics
from callsense.backup import erasures
from callsense.calls import datakeys, deliveries, retention
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.errors import NotFoundError
from callsense.pipeline import kept_answers, record_archive

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)

RESTORE_ACTOR = "restore"  # who erases again the calls a restore brought back


@dataclass(frozen=True)
class Erasure:
    call_id: str
    erased_now: bool  # False: it had been erased before, at ``at``
    at: datetime
    by: str | None
    crm_records: list[str]  # destination:record id of each CRM record the call had been filed as


def erase(
    rt: Runtime, *, call_id: str, actor: str, reason: str, via: str, despite_hold: bool = False
) -> Erasure:
    """Erase the call (see the module's doc); ``NotFoundError`` when no call had this id, ``LegalHoldError``
    when it is held, unless ``despite_hold`` (an erasure done before, which a restored hold predates)."""
    with rt.db.transaction() as session:
        call = retention.lock_for_erasure(session=session, call_id=call_id)
        if call is None:
            earlier = retention.erasure_of(session=session, call_id=call_id)
            if earlier is None:
                raise NotFoundError(f"no call with id '{call_id}'")
            return Erasure(call_id, erased_now=False, at=earlier.at, by=earlier.actor, crm_records=[])
        if not despite_hold:
            retention.refuse_if_held(call, "erased")
        crm_records = [
            f"{delivery.destination}:{delivery.external_id}"
            for delivery in deliveries.of_call(session=session, call_pk=call.id)
            if delivery.external_id is not None
        ]
        # Every copy of the call's ciphertext (blob-store backups, database dumps) becomes unreadable.
        datakeys.destroy_data_key(session, call.id)
        detail = f"erased on request ({via}): {reason}"
        if call.legal_hold_at is not None:
            held = f"{call.legal_hold_at:%Y-%m-%d %H:%M} UTC by {call.legal_hold_by}"
            detail += f"; the legal hold it had (placed {held}) predates this erasure"
        if crm_records:
            detail += f"; filed in CRM as {', '.join(crm_records)}: erase it there too"
        erased_at = retention.delete_call(session=session, call=call, actor=actor, detail=detail)
        # Written before any recording goes: what the database refuses (a NUL in the reason) leaves them.
        session.flush()
        # The recordings' keys, named by the row or not (a fetch whose commit failed leaves it unnamed);
        # deleted inside the transaction, so that should the commit fail, erasing again deletes them again.
        rt.blobs.delete(calls.audio_blob_key(call.id))
        rt.blobs.delete(calls.redacted_audio_blob_key(call.id))
        record_archive.delete(rt, call.id)
        kept_answers.delete(rt, call.id)
    # Committed: VACUUM removes the old row version that holds the wrapped key (best effort).
    datakeys.vacuum_data_keys(rt.db)
    metrics.CALLS_FORGOTTEN.labels(what="erased").inc()
    log.info("call erased", call_id=call_id, actor=actor)
    return Erasure(call_id, erased_now=True, at=erased_at, by=actor, crm_records=crm_records)


def erase_again(rt: Runtime, kept: list[erasures.Erased]) -> list[erasures.Erased]:
    """Erase again the calls a restore brought back (``kept``, as ``backup.erasures.pending`` read them):
    every erasure the replaced database recorded, through ``erase``, so that the data key is destroyed, the
    recordings and archived record deleted, and an event names the first erasure. A legal hold the restored
    call has predates its erasure (an erasure refuses a held call): the erasure wins. The first erasure's
    own event is written back too. Returns the erasures applied again now; the kept ones are cleared after
    the last (not before: a restore stopped in this loop erases them the next time)."""
    erased_now = []
    for earlier in kept:
        with rt.db.transaction() as session:
            arrived = session.scalar(select(Call.created_at).where(Call.call_id == earlier.call_id))
        if arrived is not None and arrived > earlier.at:
            continue  # a call given the same id after the erasure (by CLI or API): another call
        try:
            done = erase(
                rt,
                call_id=earlier.call_id,
                actor=RESTORE_ACTOR,
                reason=earlier.reason,
                via="backup restore",
                despite_hold=True,
            )
        except NotFoundError:  # erased (or never held) in the backup: the record of its erasure stays
            pass
        else:
            if done.erased_now:
                erased_now.append(earlier)
        with rt.db.transaction() as session:
            retention.record_erasure(
                session=session,
                call_id=earlier.call_id,
                actor=earlier.actor,
                detail=earlier.detail,
                at=earlier.at,
            )
    erasures.clear(rt.settings)
    return erased_now
