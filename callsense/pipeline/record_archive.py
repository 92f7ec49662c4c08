"""The call's record in the archive (``blobs.archive_records``): its redacted view, as analysts see it, as
JSON sealed under the call's data key, so that the archive alone holds what was said and concluded about
each call (see docs/archive.md). Never the original text: erasure and the text purge delete it like the
rows it copies."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallStatus
from callsense.errors import NotFoundError

if TYPE_CHECKING:
    from callsense.runtime import Runtime


def write(rt: Runtime, call_pk: uuid.UUID) -> None:
    """Write the call's record again, when the setting is on and the call is analysed; called after the
    transaction that changed it commits, so it holds committed state, and again by any retry."""
    if not rt.settings.blobs.archive_records:
        return
    with rt.db.transaction() as session:
        # under the call's row lock, which erasure takes too: an erasure waits, then deletes what we wrote
        call = session.get(Call, call_pk, with_for_update=True)
        if call is None or call.status != CallStatus.done.value or call.text_purged_at is not None:
            return  # erased since, not analysed, or its text purged: nothing to archive
        record = calls.to_record(call=call, keyring=rt.keyring).model_dump_json().encode()
        sealed = rt.keyring.encrypt(record, context=calls.record_context(call_pk))  # small: one message
        rt.blobs.put(calls.record_blob_key(call_pk), [sealed])


def read(rt: Runtime, call_id: str) -> str:
    """The call's archived record, decrypted (JSON); ``NotFoundError`` when the call or its record is not
    there (the setting was off, or the call is not analysed yet)."""
    with rt.db.transaction() as session:
        call_pk = calls.get(session=session, call_id=call_id).id
    try:
        blob = rt.blobs.open(calls.record_blob_key(call_pk))
    except NotFoundError as exc:
        raise NotFoundError(
            f"call '{call_id}' has no record in the archive (see blobs.archive_records)"
        ) from exc
    with rt.keyring.open_blob(blob, context=calls.record_context(call_pk)) as record:
        return record.read().decode("utf-8")


def delete(rt: Runtime, call_pk: uuid.UUID) -> None:
    """Delete the call's archived record, whether the setting is on or not (it may have been on before)."""
    rt.blobs.delete(calls.record_blob_key(call_pk))
