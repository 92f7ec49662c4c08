"""Legal holds, and the queries behind the retention purge and erasure. Callers own the transaction.

A purge keeps the call's row (its metadata, categorical results and talk figures) and marks what went
(``audio_purged_at``, ``text_purged_at``); an erasure deletes the row, and with it, by the database's
cascades, its transcript, analysis, search words, deliveries and audit trail, leaving one event that names
the call id (``Event.call_id``) and no content. A held call is neither purged nor erased.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from callsense.calls import search, source_files
from callsense.calls import service as calls
from callsense.calls.models import Analysis, Call, CallCategory, Event, SourceFile, Transcript, utcnow
from callsense.calls.queries import call_time
from callsense.calls.schemas import CallStatus
from callsense.errors import LegalHoldError

# Only calls the pipeline is done with are purged: a call still waiting for a stage keeps what it needs.
SETTLED = (CallStatus.done.value, CallStatus.no_speech.value, CallStatus.failed.value)
RETENTION_STAGE = "retention"
ERASURE_STAGE = "erasure"
REASON_MAX_CHARS = 500  # the reason of a hold, a release or an erasure: a ticket or case number


@dataclass(frozen=True)
class Hold:
    call_id: str
    held: bool
    at: datetime | None
    by: str | None
    reason: str | None
    # What the retention purge took (or has marked to take) before the hold: a hold keeps only what is left.
    audio_purged_at: datetime | None
    text_purged_at: datetime | None


def hold_of(call: Call) -> Hold:
    return Hold(
        call_id=call.call_id,
        held=call.legal_hold_at is not None,
        at=call.legal_hold_at,
        by=call.legal_hold_by,
        reason=call.legal_hold_reason,
        audio_purged_at=call.audio_purged_at,
        text_purged_at=call.text_purged_at,
    )


def set_hold(*, session: Session, call_id: str, held: bool, actor: str, reason: str, via: str) -> Hold:
    """Put the call under legal hold, or release it; audited with the reason. Holding a held call keeps
    the first hold's time and renews its reason."""
    call = calls.lock(session=session, call_pk=calls.get(session=session, call_id=call_id).id)
    if held:
        call.legal_hold_at = call.legal_hold_at or utcnow()
        call.legal_hold_by, call.legal_hold_reason = actor, reason
    else:
        call.legal_hold_at = call.legal_hold_by = call.legal_hold_reason = None
    kind = "hold" if held else "hold_released"
    calls.add_event(session=session, call_pk=call.id, stage=via, kind=kind, detail=reason, actor=actor)
    return hold_of(call)


def refuse_if_held(call: Call, what: str) -> None:
    if call.legal_hold_at is not None:
        raise LegalHoldError(
            f"call '{call.call_id}' is under legal hold since {call.legal_hold_at:%Y-%m-%d %H:%M} UTC "
            f"({call.legal_hold_by}: {call.legal_hold_reason}); it cannot be {what} until an admin "
            f"releases it (callsense calls release {call.call_id} --reason ...)"
        )


def in_group(sources: Sequence[str], *, others: Sequence[str] | None) -> ColumnElement[bool]:
    """Calls that ``sources`` took; with ``others`` instead, every call that none of them took (webhooks,
    the API, the CLI, and sources that follow the default rule)."""
    if others is None:
        return Call.source_name.in_(sources)
    return Call.source_name.is_(None) | Call.source_name.not_in(others)


def _due(group: ColumnElement[bool], cutoff: datetime) -> list[ColumnElement[bool]]:
    return [group, Call.legal_hold_at.is_(None), Call.status.in_(SETTLED), call_time < cutoff]


def _has_audio() -> ColumnElement[bool]:
    return Call.audio_blob.is_not(None) | Call.redacted_audio_blob.is_not(None)


def _has_text() -> ColumnElement[bool]:
    return Call.transcript.has() | Call.analysis.has()


def audio_due(group: ColumnElement[bool], *, days: int, now: datetime) -> list[ColumnElement[bool]]:
    """Calls whose recordings are due and not yet marked for the purge (``mark_audio``)."""
    return [*_due(group, now - timedelta(days=days)), Call.audio_purged_at.is_(None), _has_audio()]


def text_due(group: ColumnElement[bool], *, days: int, now: datetime) -> list[ColumnElement[bool]]:
    """Calls whose text is due and not yet marked for the purge (``mark_text``)."""
    return [*_due(group, now - timedelta(days=days)), Call.text_purged_at.is_(None), _has_text()]


def audio_marked() -> list[ColumnElement[bool]]:
    """Calls marked as purged whose recordings may still be stored: a purge stopped between marking them and
    deleting them. Held or not: the mark, committed before any hold, is what the call's record says."""
    return [Call.audio_purged_at.is_not(None), _has_audio()]


def text_marked() -> list[ColumnElement[bool]]:
    """Calls marked as purged whose text is still stored (see ``audio_marked``)."""
    return [Call.text_purged_at.is_not(None), _has_text()]


def count_by_source(*, session: Session, due: list[ColumnElement[bool]]) -> dict[str | None, int]:
    rows = session.execute(select(Call.source_name, func.count()).where(*due).group_by(Call.source_name))
    return {source: count for source, count in rows}


def claim(*, session: Session, due: list[ColumnElement[bool]], limit: int) -> list[Call]:
    """Up to ``limit`` due calls, locked; calls another transaction holds (a stage, an erasure) are
    skipped, and taken by the next purge."""
    query = select(Call).where(*due).order_by(Call.id).limit(limit).with_for_update(skip_locked=True)
    return list(session.scalars(query))


def mark_audio(calls_due: list[Call]) -> None:
    """Record that these calls' recordings are purged, before anything is deleted: committed first, so that
    a purge killed midway never leaves a call without its recording and without saying so, and a hold
    placed later shows the truth (the recordings go, ``audio_marked``)."""
    for call in calls_due:
        call.audio_purged_at = utcnow()


def mark_text(calls_due: list[Call]) -> None:
    """Record that these calls' text is purged, before anything is deleted (see ``mark_audio``)."""
    for call in calls_due:
        call.text_purged_at = utcnow()


def forget_audio(*, call: Call) -> None:
    """The row's part of purging a recording and its redacted copy: the blobs are the caller's to delete."""
    call.audio_blob = None
    call.redacted_audio_blob = None
    call.audio_purged_at = call.audio_purged_at or utcnow()


def forget_text(*, session: Session, call_pks: list[uuid.UUID]) -> None:
    """Drop the transcripts, analyses and search words of these calls, and mark them purged (keeping the
    time of an earlier mark)."""
    session.execute(delete(Transcript).where(Transcript.call_pk.in_(call_pks)))
    session.execute(delete(Analysis).where(Analysis.call_pk.in_(call_pks)))
    # categories are read from the text, and their evidence quotes it: they go with it
    session.execute(delete(CallCategory).where(CallCategory.call_pk.in_(call_pks)))
    for call_pk in call_pks:
        search.forget(session=session, call_pk=call_pk)
    session.execute(
        update(Call)
        .where(Call.id.in_(call_pks))
        .values(text_purged_at=func.coalesce(Call.text_purged_at, utcnow()))
    )


def unfinished(*, session: Session) -> int:
    """Calls marked purged whose recordings or text are still stored: a purge stopped or failed midway
    (the next one deletes them); the officer is told, as their pages already say "removed"."""
    marked = or_(and_(*audio_marked()), and_(*text_marked()))
    return session.scalar(select(func.count()).select_from(Call).where(marked)) or 0


def last_purge(*, session: Session) -> Event | None:
    query = select(Event).where(Event.stage == RETENTION_STAGE, Event.kind == "purged")
    return session.scalars(query.order_by(Event.at.desc(), Event.id.desc()).limit(1)).one_or_none()


def erasure_of(*, session: Session, call_id: str) -> Event | None:
    """The record of an earlier erasure of this call id, if any."""
    query = select(Event).where(Event.stage == ERASURE_STAGE, Event.call_id == call_id)
    return session.scalars(query.order_by(Event.at).limit(1)).one_or_none()


def lock_for_erasure(*, session: Session, call_id: str) -> Call | None:
    """The call, locked (a stage working on it finishes its transaction first); None when there is none."""
    query = select(Call).where(Call.call_id == call_id).with_for_update()
    return session.scalars(query).one_or_none()


def delete_call(*, session: Session, call: Call, actor: str, detail: str) -> datetime:
    """Delete the call's row: the database cascades to its transcript, analysis, search words, deliveries
    and events, and unlinks its webhook receipts and source files (whose rows stay, so that a source does
    not take the file again, named by a digest instead of the file's name, which may carry personal data).
    The erasure's own event, which survives, names the call id only; its time, the erasure's, is returned."""
    for row in session.scalars(select(SourceFile).where(SourceFile.call_pk == call.id)):
        row.path = source_files.erased_path(row.path)
        row.reason = "its call was erased on request"
    session.execute(delete(Call).where(Call.id == call.id))
    session.expunge(call)
    erased_at = utcnow()
    record_erasure(session=session, call_id=call.call_id, actor=actor, detail=detail, at=erased_at)
    return erased_at


def record_erasure(
    *, session: Session, call_id: str, actor: str | None, detail: str | None, at: datetime
) -> None:
    """The erasure's event, which outlives the call; written again by a restore, as it was, unless the
    database records it already (a restored backup made after it)."""
    recorded = select(Event.id).where(Event.stage == ERASURE_STAGE, Event.call_id == call_id, Event.at == at)
    if session.scalars(recorded).first() is None:
        session.add(
            Event(
                call_pk=None,
                call_id=call_id,
                stage=ERASURE_STAGE,
                kind="erased",
                detail=detail,
                actor=actor,
                at=at,
            )
        )
