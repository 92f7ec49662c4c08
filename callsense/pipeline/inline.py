"""The whole path of one call inline, in this process, stage after stage, for the CLI (the service queues
each stage instead, ``tasks.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from callsense.calls import access
from callsense.calls import service as calls
from callsense.calls.schemas import CallRecord
from callsense.pipeline import analyse, fetch, ingest, transcribe

if TYPE_CHECKING:
    from callsense.runtime import Runtime

Progress = Callable[[str, float], None]


def record(rt: Runtime, call_pk: uuid.UUID, *, original_for: str | None = None) -> CallRecord:
    """The stored record: the redacted view, or with ``original_for`` (who asks, for the audit trail) the
    text as said, audited as ``sensitive_viewed``."""
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        if original_for is None:
            return calls.to_record(call=call, keyring=rt.keyring)
        return access.read_record(
            session=session,
            keyring=rt.keyring,
            call=call,
            transcript_allowed=True,
            actor=original_for,
            via="cli",
            original=True,
        )


def process(
    rt: Runtime,
    *,
    source: str,
    call_id: str,
    language: str | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
    original_for: str | None = None,
) -> CallRecord:
    """Every stage of the call but the deliveries, in this process; returns the stored record (redacted,
    or the original for ``original_for``, audited)."""
    call_pk = ingest.ingest(rt, call_id=call_id, source=source).call_pk
    if force:
        with rt.db.transaction() as session:
            # the later request wins: a worker's run of a stage begun before stores nothing
            calls.lock(session=session, call_pk=call_pk).generation += 1
            calls.add_event(session=session, call_pk=call_pk, stage="ingest", kind="forced")

    def report(stage: str) -> Callable[[float], None] | None:
        return None if on_progress is None else (lambda fraction: on_progress(stage, fraction))

    # Each stage is asked in turn, whatever the previous one said comes next: a stage skips what is done,
    # so running this again after a failed analysis retries the analysis.
    fetch.run(rt, call_pk, source=source, force=force)
    transcribe.run(rt, call_pk, language=language, force=force, on_progress=report("transcribe"))
    analyse.run(rt, call_pk, force=force)
    return record(rt, call_pk, original_for=original_for)
