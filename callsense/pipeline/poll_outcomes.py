"""What a poll of a recording source tells, and the checks of a file's audio against the calls taken.

Each problem is noted on the file's row, as the source's last error and in the audit trail (``note``); the
poll's counts are stored as the source's status (``record``). A file's audio is compared with the calls
taken already: under a call id known already it must be the same recording (``require_same_audio``), and
a file with no call id of its own whose audio a call of its source has is the same recording renamed or
copied (``taken_copy``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import structlog
from tenacity import Retrying

from callsense import db
from callsense.backends.recordings.sources import Listed
from callsense.calls import service as calls
from callsense.calls import source_files
from callsense.calls.models import Call
from callsense.calls.source_files import FileStatus, TakeEnd
from callsense.errors import BlobStoreUnavailableError, DatabaseUnavailableError, RecordingRefusedError

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)
T = TypeVar("T")
# How long a poll waits for the database to note how a take ended: less than the lease after which another
# poller takes the file over (and counts its take, as that of a poller that died).
OUTAGE_PATIENCE_S = source_files.TAKING_LEASE.total_seconds() / 2
EVENT_KINDS = {FileStatus.refused: "refused", FileStatus.given_up: "given_up"}  # else "error"


@dataclass
class PollReport:
    source: str
    seen: int = 0  # files listed
    waiting: int = 0  # not complete yet
    left: int = 0  # complete, left for the next poll (max_files_per_poll)
    fetched: list[uuid.UUID] = field(default_factory=list)  # taken this poll: the calls to transcribe
    registered: list[uuid.UUID] = field(default_factory=list)  # new calls of a REST source: to fetch
    refused: int = 0
    failed: int = 0  # could not be read now; the next poll tries again
    given_up: int = 0  # files whose takes ended with no outcome max_attempts times in a row
    duplicates: int = 0  # renamed or copied recordings of calls taken already, skipped
    error: str | None = None  # the last problem, as the source's status shows it
    held_until: datetime | None = None  # a REST source's API asked not to be polled before then


def require_same_audio(rt: Runtime, call_pk: uuid.UUID, call_id: str, sha256: str) -> None:
    """A call id known already is the same recording (a copy in a second folder, a poll taken over), or one
    the recorder gave another recording's id: that one is refused, not counted as taken while its audio is
    dropped."""
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        stored, taken_from = (call.audio_sha256, call.source) if call is not None else (None, "")
    if stored is None or stored == sha256:  # no audio stored yet (this file brings it), or the same
        return
    raise RecordingRefusedError(
        f"its call id '{call_id}' was taken already from another recording ({taken_from}); not taken again"
    )


def taken_copy(rt: Runtime, report: PollReport, item: Listed, call_id: str, sha256: str) -> uuid.UUID | None:
    """The call of the source that has this audio already, if any: the file is that recording renamed or
    copied (two calls never have the same recording), so it is settled as that call's, noted on its trail,
    and not registered again."""
    with rt.db.transaction() as session:
        original = source_files.call_with_audio(
            session=session, source=report.source, sha256=sha256, other_than=call_id
        )
    if original is None:
        return None
    call_pk, original_id = original
    report.duplicates += 1
    reason = (
        f"the same audio (SHA-256 {sha256[:12]}…) as call '{original_id}', taken already from this source; "
        'not registered again (duplicate_audio = "take" takes it as a call of its own)'
    )
    note(rt, report, item, FileStatus.ingested, reason, call_pk, kind="duplicate")
    return call_pk


def note(
    rt: Runtime,
    report: PollReport,
    item: Listed | None,
    status: FileStatus,
    reason: str,
    call_pk: uuid.UUID | None = None,
    *,
    end: TakeEnd = TakeEnd.outcome,
    kind: str | None = None,
) -> None:
    """A problem: on the file's row, as the source's last error, and in the audit trail (as ``kind``, else
    after ``status``); ``end`` says how the take counts (``source_files.settle``)."""
    where = f"{item.key}: " if item is not None else ""
    report.error = printable(f"{where}{reason}")
    log.warning("source problem", source=report.source, path=item.key if item else None, reason=reason)
    with rt.db.transaction() as session:
        if item is not None:
            source_files.settle(
                session=session,
                source=report.source,
                key=item.key,
                status=status,
                reason=printable(reason),
                call_pk=call_pk,
                end=end,
            )
        calls.add_event(
            session=session,
            call_pk=call_pk,
            stage="source",
            kind=kind or EVENT_KINDS.get(status, "error"),
            detail=f"{report.source}: {report.error}",
            actor=f"source:{report.source}",
        )


def note_taken(rt: Runtime, source: str, key: str, call_pk: uuid.UUID | None) -> None:
    with rt.db.transaction() as session:
        source_files.settle(
            session=session, source=source, key=key, status=FileStatus.ingested, call_pk=call_pk
        )


def note_outage(
    rt: Runtime, report: PollReport, item: Listed, exc: BaseException, call_pk: uuid.UUID | None
) -> None:
    """A take cut short by an ``outage``: noted as an error to try again, its count taken back, once the
    database answers (``patiently``)."""
    ours = isinstance(exc, BlobStoreUnavailableError | DatabaseUnavailableError)  # a library's may quote data
    what = str(exc) if ours else "the database could not be reached"
    reason = f"{what}; tried again at the next poll, not counted as a failed take"
    patiently(lambda: note(rt, report, item, FileStatus.error, reason, call_pk, end=TakeEnd.outage))


def outage(exc: BaseException) -> bool:
    """The database or the blob store could not be reached, whatever the error was raised as on its way
    (a stage's stand-in keeps the error it replaced as its context)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, DatabaseUnavailableError | BlobStoreUnavailableError) or db.unreachable(cause):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def patiently(call: Callable[[], T]) -> T:
    """``call``, tried again while the database is unreachable, for up to ``OUTAGE_PATIENCE_S``."""

    for attempt in Retrying(**db.while_unreachable("settling a taken file", patience_s=OUTAGE_PATIENCE_S)):
        with attempt:
            return call()
    raise AssertionError("unreachable: tenacity either returns or re-raises")


def printable(text: str) -> str:
    """``text`` with the characters a recorder's file name or sidecar may hold that do not print (a newline,
    a terminal's escape, a right-to-left override) written as escapes: a reason stays one line, and showing
    it in a terminal cannot drive that terminal."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def record(rt: Runtime, report: PollReport, *, ingested: int | None = None) -> None:
    with rt.db.transaction() as session:
        source_files.record_poll(
            session=session,
            source=report.source,
            seen=report.seen,
            ingested=len(report.fetched) if ingested is None else ingested,
            refused=report.refused,
            error=report.error,
        )
