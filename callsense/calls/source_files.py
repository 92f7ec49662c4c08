"""The files recording sources listed, and each source's last poll. Callers own the transaction.

Taking a file is a compare-and-set on its row (``claim``): of two pollers that saw the same file, the one
whose update or insert lands first takes it, the other's finds the row changed and moves on. A poller that
died while taking a file leaves it ``taking``; after ``TAKING_LEASE`` another poller takes it over (ingest is
idempotent on the call id, so nothing is registered twice). Each claim counts a take in ``attempts``; a
take that ends with an outcome (taken, refused, an error to try again) sets it back to 0, so it counts the
takes in a row that ended with none (the poller killed, an unexpected error), which ``given_up`` bounds. A
take the database or the blob store cut short (unreachable) takes its count back: an outage says nothing
of the file, and a long one must not give good files up.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from callsense.calls.models import Call, SourceFile, SourceStatus

TAKING_LEASE = timedelta(minutes=15)
ERASED = "erased:"  # the path of the row of a file whose call was erased: ERASED + SHA-256 of the path


class FileStatus(StrEnum):
    pending = "pending"
    taking = "taking"
    ingested = "ingested"
    refused = "refused"
    error = "error"
    given_up = "given_up"


class TakeEnd(StrEnum):
    """How a take ended, for the count of takes in a row that ended with no outcome."""

    outcome = "outcome"  # taken, refused, or an error of the file to try again: the count starts again
    none = "none"  # an unexpected error (or given up): the take counts towards giving the file up
    outage = "outage"  # the database or the blob store unreachable: the take does not count


# Not taken, and not being taken: a change of the file makes it wait to be taken again.
UNTAKEN = (FileStatus.pending, FileStatus.refused, FileStatus.error, FileStatus.given_up)


@dataclass(frozen=True)
class Known:
    status: FileStatus
    size: int
    mtime: float
    seen_at: datetime
    updated_at: datetime
    attempts: int = 0  # takes in a row that ended with no outcome


@dataclass(frozen=True)
class Version:
    key: str
    size: int
    mtime: float


def known(*, session: Session, source: str) -> tuple[datetime, dict[str, Known]]:
    """The database's clock now (every poller measures with it) and each file of ``source`` seen before."""
    now = session.scalar(select(func.now()))
    assert now is not None
    rows = session.execute(
        select(
            SourceFile.path,
            SourceFile.status,
            SourceFile.size,
            SourceFile.mtime,
            SourceFile.seen_at,
            SourceFile.updated_at,
            SourceFile.attempts,
        ).where(SourceFile.source == source)
    )
    return now, {
        path: Known(FileStatus(status), size, mtime, seen_at, updated_at, attempts)
        for path, status, size, mtime, seen_at, updated_at, attempts in rows
    }


def erased_path(key: str) -> str:
    """What the row of a file whose call was erased keeps instead of its name, which may carry personal
    data (a caller's number, an agent's name in the recorder's file name): its digest, enough to know the
    file when a source lists it again, so that it is not taken again."""
    return ERASED + hashlib.sha256(key.encode()).hexdigest()


def row_of(rows: dict[str, Known], key: str) -> Known | None:
    """The row of the file ``key`` among ``known``'s: by its name, or by its digest once its call was
    erased."""
    return rows.get(key) or rows.get(erased_path(key))


def add_pending(*, session: Session, source: str, versions: list[Version]) -> None:
    """First sightings; a row another poller added meanwhile stays as it is."""
    if not versions:
        return
    rows = [
        {"source": source, "path": v.key, "size": v.size, "mtime": v.mtime, "status": FileStatus.pending}
        for v in versions
    ]
    statement = pg_insert(SourceFile).values(seen_at=func.now(), updated_at=func.now())
    session.execute(statement.on_conflict_do_nothing(constraint="uq_source_files_source_path"), rows)


def restart_pending(*, session: Session, source: str, version: Version) -> None:
    """The file changed (it is still being written, or a refused file was replaced): wait again."""
    session.execute(
        update(SourceFile)
        .where(SourceFile.source == source, SourceFile.path == version.key)
        .where(SourceFile.status.in_(UNTAKEN))
        .values(
            size=version.size,
            mtime=version.mtime,
            status=FileStatus.pending,
            reason=None,
            attempts=0,
            seen_at=func.now(),
            updated_at=func.now(),
        )
    )


def remember_version(*, session: Session, source: str, version: Version) -> uuid.UUID | None:
    """A taken file changed: its row keeps the new size and time, so the change is told once; the call it
    became."""
    return session.scalar(
        update(SourceFile)
        .where(SourceFile.source == source, SourceFile.path == version.key)
        .values(size=version.size, mtime=version.mtime, updated_at=func.now())
        .returning(SourceFile.call_pk)
    )


def claim(*, session: Session, source: str, version: Version, seen: Known | None) -> bool:
    """Mark the file ``taking`` if it is still as this poller saw it (``seen``; None: no row yet)."""
    values = {"size": version.size, "mtime": version.mtime, "status": FileStatus.taking, "reason": None}
    if seen is None:
        first = (
            pg_insert(SourceFile)
            .values(
                source=source,
                path=version.key,
                seen_at=func.now(),
                updated_at=func.now(),
                attempts=1,
                **values,
            )
            .on_conflict_do_nothing(constraint="uq_source_files_source_path")
            .returning(SourceFile.id)
        )
        return session.scalar(first) is not None
    condition = [SourceFile.status == seen.status, SourceFile.updated_at == seen.updated_at]
    if seen.status is FileStatus.taking:
        condition.append(SourceFile.updated_at < func.now() - TAKING_LEASE)
    statement = (
        update(SourceFile)
        .where(SourceFile.source == source, SourceFile.path == version.key, *condition)
        .values(updated_at=func.now(), attempts=_attempts_after_claim(version), **values)
        .returning(SourceFile.id)
    )
    return session.scalar(statement) is not None


def _attempts_after_claim(version: Version) -> ColumnElement[int]:
    """One take more of the same version; a changed file's takes are counted afresh."""
    same = (SourceFile.size == version.size) & (SourceFile.mtime == version.mtime)
    return case((same, SourceFile.attempts + 1), else_=1)


def settle(
    *,
    session: Session,
    source: str,
    key: str,
    status: FileStatus,
    reason: str | None = None,
    call_pk: uuid.UUID | None = None,
    end: TakeEnd = TakeEnd.outcome,
) -> None:
    """The file's row as a take left it, its count of takes as ``end`` says."""
    values: dict[str, object] = {
        "status": status,
        "reason": reason,
        "call_pk": call_pk,
        "updated_at": func.now(),
    }
    if end is TakeEnd.outcome:
        values["attempts"] = 0
    elif end is TakeEnd.outage:
        values["attempts"] = func.greatest(SourceFile.attempts - 1, 0)  # the claim's count taken back
    session.execute(
        update(SourceFile).where(SourceFile.source == source, SourceFile.path == key).values(**values)
    )


def retry_given_up(*, session: Session, source: str, keys: list[str] | None = None) -> list[str]:
    """Given-up files of ``source`` (those of ``keys``, or all) taken again at the next poll, their count of
    takes started again; the paths put back."""
    statement = update(SourceFile).where(
        SourceFile.source == source, SourceFile.status == FileStatus.given_up
    )
    if keys is not None:
        statement = statement.where(SourceFile.path.in_(keys))
    values = {"status": FileStatus.pending, "reason": None, "attempts": 0, "updated_at": func.now()}
    return sorted(session.scalars(statement.values(**values).returning(SourceFile.path)))


def given_up(*, session: Session) -> dict[str, int]:
    """How many files each source gave up."""
    query = (
        select(SourceFile.source, func.count())
        .where(SourceFile.status == FileStatus.given_up)
        .group_by(SourceFile.source)
    )
    return {source: count for source, count in session.execute(query)}


def forget_unfinished(*, session: Session, source: str, keys: list[str]) -> None:
    """Files that vanished (renamed, removed) before they were taken: nothing to remember."""
    if keys:
        session.execute(
            delete(SourceFile).where(
                SourceFile.source == source,
                SourceFile.path.in_(keys),
                SourceFile.status.in_([FileStatus.pending, FileStatus.error, FileStatus.given_up]),
            )
        )


def record_poll(
    *, session: Session, source: str, seen: int, ingested: int, refused: int, error: str | None
) -> None:
    first = pg_insert(SourceStatus).values(source=source, files_seen=0, ingested=0, refused=0)
    session.execute(first.on_conflict_do_nothing(index_elements=["source"]))
    row = session.get(SourceStatus, source, with_for_update=True)
    assert row is not None
    row.last_poll_at = session.scalar(select(func.now()))
    row.files_seen = seen
    row.ingested += ingested
    row.refused += refused
    if error is not None:
        row.last_error = error
        row.last_error_at = row.last_poll_at


def cursor(*, session: Session, source: str) -> str | None:
    return session.scalar(select(SourceStatus.cursor).where(SourceStatus.source == source))


def save_cursor(*, session: Session, source: str, value: str) -> None:
    statement = pg_insert(SourceStatus).values(
        source=source, files_seen=0, ingested=0, refused=0, cursor=value
    )
    session.execute(
        statement.on_conflict_do_update(index_elements=["source"], set_={"cursor": statement.excluded.cursor})
    )


def hold_off(*, session: Session, source: str, seconds: float) -> datetime:
    """The source is not polled again for ``seconds`` (by the database's clock, as every poller reads it);
    returns until when."""
    until = func.now() + timedelta(seconds=seconds)
    statement = pg_insert(SourceStatus).values(
        source=source, files_seen=0, ingested=0, refused=0, not_before=until
    )
    statement = statement.on_conflict_do_update(
        index_elements=["source"], set_={"not_before": statement.excluded.not_before}
    )
    held = session.execute(statement.returning(SourceStatus.not_before)).scalar_one()
    assert held is not None  # set just now
    return held


def held(*, session: Session, source: str | None = None) -> dict[str, datetime]:
    """Each source not to be polled yet (or ``source`` alone, if it is not), and until when."""
    query = select(SourceStatus.source, SourceStatus.not_before).where(SourceStatus.not_before > func.now())
    rows = session.execute(query if source is None else query.where(SourceStatus.source == source))
    return {source: until for source, until in rows if until is not None}


def statuses(*, session: Session) -> dict[str, SourceStatus]:
    return {row.source: row for row in session.scalars(select(SourceStatus))}


def call_with_audio(
    *, session: Session, source: str, sha256: str, other_than: str
) -> tuple[uuid.UUID, str] | None:
    """The first call ``source`` took whose recording has this SHA-256 (its key and call id), if any, but
    the call ``other_than`` (the file's own, which a take killed after its fetch stored the audio left)."""
    query = (
        select(Call.id, Call.call_id)
        .where(Call.source_name == source, Call.audio_sha256 == sha256, Call.call_id != other_than)
        .order_by(Call.created_at)
        .limit(1)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row is not None else None
