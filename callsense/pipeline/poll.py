"""Polling a recording source: a folder (``poll``), an S3 bucket (``poll_bucket``: ``poll`` from a stored
listing cursor) or a REST listing (``poll_rest``), each call taken once.

Folders. A file is complete once its size and modification time stayed the same for the source's
``stable_seconds``, measured by the database's clock between polls (``calls/source_files.py`` remembers the
first sighting of each version), so it works across restarts, pollers on several machines, and file servers
whose clocks are off. Taking a file claims its row first, so of two pollers one takes it; then the one
ingest function registers the call and the fetch stage stores its audio encrypted, here, where the folder is
mounted (a worker elsewhere could not read it, and the file may be moved or deleted next). An S3 object is
the same, read from a local copy the source streams it into (``Source.staged``). The transcribe stage is left
to the queue: ``PollReport.fetched`` names the calls to defer.

Bad input (empty, not audio, a name or sidecar that does not parse) is refused with its reason on the file's
row, the source's status and the audit trail, and tried again only when the file changes; a file that cannot
be read now is tried again at the next poll. Neither stops the other files.

REST listings. Pages are read from the cursor stored with the source's status; each listed call goes
through the ingest function, which finds a call id it knows instead of registering it again, so no row per
item is needed. The recordings are left to the fetch stage on the queue: ``PollReport.registered``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from callsense.backends.recordings.http import FetchOptions
from callsense.backends.recordings.sources import FolderSource, Listed, Source
from callsense.backends.recordings.sources.rest import RestSource
from callsense.backends.recordings.sources.s3 import S3Source
from callsense.calls import service as calls
from callsense.calls import source_files
from callsense.calls.models import Call
from callsense.calls.source_files import FileStatus, Known, Version
from callsense.config.sources import CursorMode, RestSourceSettings, S3SourceSettings
from callsense.errors import (
    CallsenseError,
    ConfigError,
    PermanentError,
    RecordingRefusedError,
    SourceUnavailableError,
)
from callsense.pipeline import fetch, ingest

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)
Progress = Callable[[int, int], None]
SETTLED = (FileStatus.ingested, FileStatus.refused)  # nothing more to do for the file as it is


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
    error: str | None = None  # the last problem, as the source's status shows it


def poll_named(rt: Runtime, name: str, *, on_progress: Progress | None = None) -> PollReport:
    """Poll the configured source called ``name`` once, whatever its kind; ``ConfigError`` when there is
    none."""
    settings = rt.settings.sources.named(name)
    if settings is None:
        known = ", ".join(source.name for source in rt.settings.sources.all()) or "none configured"
        raise ConfigError(f"no source named '{name}' ({known})")
    if isinstance(settings, RestSourceSettings):
        return poll_rest(rt, RestSource(settings, FetchOptions.from_settings(rt.settings)))
    if isinstance(settings, S3SourceSettings):
        bucket = S3Source(settings, max_bytes=rt.settings.max_file_bytes)
        return poll_bucket(rt, bucket, max_files=settings.max_files_per_poll, on_progress=on_progress)
    return poll(
        rt,
        FolderSource(settings),
        stable_seconds=settings.stable_seconds,
        max_files=settings.max_files_per_poll,
        on_progress=on_progress,
    )


def poll(
    rt: Runtime,
    source: Source,
    *,
    stable_seconds: float,
    max_files: int | None = None,
    on_progress: Progress | None = None,
) -> PollReport:
    """One poll of ``source``, taking at most ``max_files``; its outcome is also stored as the source's
    status."""
    report = PollReport(source=source.name)
    try:
        listed = list(source.scan())
    except SourceUnavailableError as exc:
        _note(rt, report, None, FileStatus.error, str(exc))
        _record(rt, report)
        return report
    report.seen = len(listed)
    ready, report.waiting, changed = _complete(rt, source.name, listed, timedelta(seconds=stable_seconds))
    for item in changed:
        _changed_after_taking(rt, report, item)
    if max_files is not None and len(ready) > max_files:
        ready, report.left = ready[:max_files], len(ready) - max_files
    for done, (item, seen) in enumerate(ready, start=1):
        _take(rt, source, item, seen, report)
        if on_progress is not None:
            on_progress(done, len(ready))
    _record(rt, report)
    return report


def poll_bucket(
    rt: Runtime, source: S3Source, *, max_files: int | None = None, on_progress: Progress | None = None
) -> PollReport:
    """One ``poll`` of an S3 source, its listing resuming from the cursor stored with the source's status;
    the cursor then moves to the end of the run of keys settled since, so a restart or another worker goes
    on from there and the keys before it are never listed again."""
    with rt.db.transaction() as session:
        source.cursor = source_files.cursor(session=session, source=source.name)
    report = poll(
        rt,
        source,
        stable_seconds=source.settings.stable_seconds,
        max_files=max_files,
        on_progress=on_progress,
    )
    if source.settings.cursor is CursorMode.none or (report.error and not report.seen):
        return report
    with rt.db.transaction() as session:
        _, rows = source_files.known(session=session, source=source.name)
        settled = {
            key for key in source.listed if (row := source_files.row_of(rows, key)) and row.status in SETTLED
        }
        cursor = source.next_cursor(settled)
        if cursor is not None:
            source_files.save_cursor(session=session, source=source.name, value=cursor)
    return report


def poll_rest(rt: Runtime, source: RestSource) -> PollReport:
    """Read the pages listed after the source's stored cursor and register each new call; the fetch stage
    downloads them on the queue, with its retries. A call id seen before is found, not registered again, so
    a page read twice (a poll died before saving its cursor, or two pollers) changes nothing."""
    report = PollReport(source=source.name)
    with rt.db.transaction() as session:
        cursor = source_files.cursor(session=session, source=source.name) or source.settings.start_cursor
    for _page in range(source.settings.max_pages_per_poll):
        try:
            page = source.page(cursor)
        except SourceUnavailableError as exc:
            _note(rt, report, None, FileStatus.error, str(exc))
            break
        report.seen += len(page.items)
        for item in page.items:
            if item.recording is None or item.url is None:
                report.refused += 1
                _note(
                    rt, report, None, FileStatus.refused, f"item {item.index} after {cursor}: {item.refused}"
                )
                continue
            recording = item.recording
            ingested = ingest.ingest(
                rt,
                call_id=recording.call_id,
                source=item.url,
                details=replace(recording.details, source_name=source.name),
            )
            if ingested.created:
                report.registered.append(ingested.call_pk)
        if not page.items or page.next_cursor is None:
            break
        cursor = page.next_cursor
        with rt.db.transaction() as session:
            source_files.save_cursor(session=session, source=source.name, value=cursor)
    _record(rt, report, ingested=len(report.registered))
    return report


def _complete(
    rt: Runtime, name: str, listed: list[Listed], stable: timedelta
) -> tuple[list[tuple[Listed, Known | None]], int, list[Listed]]:
    """The listed files ready to be taken, with their rows as seen, how many are not complete yet, and the
    taken files whose size changed since; notes the first sightings and changes."""
    ready: list[tuple[Listed, Known | None]] = []
    changed: list[Listed] = []
    first: list[Version] = []
    waiting = 0
    with rt.db.transaction() as session:
        now, rows = source_files.known(session=session, source=name)
        for item in listed:
            version = Version(item.key, item.size, item.mtime)
            seen = source_files.row_of(rows, item.key)
            if seen is None:
                if stable:
                    first.append(version)
                    waiting += 1
                else:
                    ready.append((item, None))
            elif seen.status is FileStatus.ingested:
                if seen.size != item.size and item.key in rows:  # not the row of an erased call
                    changed.append(item)
            elif seen.status is FileStatus.taking:
                if seen.updated_at < now - source_files.TAKING_LEASE:  # its poller died
                    ready.append((item, seen))
            elif (seen.size, seen.mtime) != (item.size, item.mtime):
                if stable:
                    source_files.restart_pending(session=session, source=name, version=version)
                    waiting += 1
                else:
                    ready.append((item, seen))
            elif seen.status is FileStatus.refused:
                continue
            elif now - seen.seen_at >= stable:
                ready.append((item, seen))
            else:
                waiting += 1
        source_files.add_pending(session=session, source=name, versions=first)
        present = {item.key for item in listed}
        source_files.forget_unfinished(session=session, source=name, keys=sorted(set(rows) - present))
    return ready, waiting, changed


def _take(rt: Runtime, source: Source, item: Listed, seen: Known | None, report: PollReport) -> None:
    version = Version(item.key, item.size, item.mtime)
    with rt.db.transaction() as session:
        if not source_files.claim(session=session, source=source.name, version=version, seen=seen):
            return  # another poller took it
    call_pk = None
    try:
        recording = source.inspect(item)
        ingested = ingest.ingest(
            rt,
            call_id=recording.call_id,
            source=item.location,
            details=replace(recording.details, source_name=source.name),
        )
        call_pk = ingested.call_pk
        with source.staged(item) as local_copy:
            if not ingested.created:
                _require_same_audio(rt, call_pk, recording.call_id, local_copy)
            fetch.run(rt, call_pk, source=local_copy, local_files=True)
    except PermanentError as exc:
        report.refused += 1
        _note(rt, report, item, FileStatus.refused, str(exc), call_pk)
        return
    except (CallsenseError, OSError) as exc:
        report.failed += 1
        _note(rt, report, item, FileStatus.error, str(exc), call_pk)
        return
    with rt.db.transaction() as session:
        source_files.settle(
            session=session, source=source.name, key=item.key, status=FileStatus.ingested, call_pk=call_pk
        )
    report.fetched.append(call_pk)
    # The call, not the file's name: a recorder's file names may hold the caller's number.
    log.info("recording taken", source=source.name, call_pk=str(call_pk))
    try:
        source.finish(item)
    except SourceUnavailableError as exc:  # taken all the same: the file stays where it was
        _note(rt, report, item, FileStatus.ingested, str(exc), call_pk)


def _changed_after_taking(rt: Runtime, report: PollReport, item: Listed) -> None:
    """A taken file whose size changed: the recorder was still writing it (paused longer than
    ``stable_seconds``), or wrote a new recording under its path. Neither is taken again (a path is taken
    once), so the engineer is told, once per change."""
    with rt.db.transaction() as session:
        call_pk = source_files.remember_version(
            session=session, source=report.source, version=Version(item.key, item.size, item.mtime)
        )
    reason = (
        f"it changed after it was taken (now {item.size} bytes); the call keeps the audio taken then: "
        "a recorder still writing needs a longer stable_seconds"
    )
    _note(rt, report, item, FileStatus.ingested, reason, call_pk)


def _require_same_audio(rt: Runtime, call_pk: uuid.UUID, call_id: str, local_copy: str) -> None:
    """A call id known already is the same recording (a copy in a second folder, a poll taken over), or one
    the recorder gave another recording's id: that one is refused, not counted as taken while its audio is
    dropped."""
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        stored, taken_from = (call.audio_sha256, call.source) if call is not None else (None, "")
    if stored is None:  # no audio stored yet: this file brings it
        return
    with open(local_copy, "rb") as recording:
        if hashlib.file_digest(recording, "sha256").hexdigest() == stored:
            return
    raise RecordingRefusedError(
        f"its call id '{call_id}' was taken already from another recording ({taken_from}); not taken again"
    )


def _note(
    rt: Runtime,
    report: PollReport,
    item: Listed | None,
    status: FileStatus,
    reason: str,
    call_pk: uuid.UUID | None = None,
) -> None:
    """A problem: on the file's row, as the source's last error, and in the audit trail."""
    where = f"{item.key}: " if item is not None else ""
    report.error = _printable(f"{where}{reason}")
    log.warning("source problem", source=report.source, path=item.key if item else None, reason=reason)
    with rt.db.transaction() as session:
        if item is not None:
            source_files.settle(
                session=session,
                source=report.source,
                key=item.key,
                status=status,
                reason=_printable(reason),
                call_pk=call_pk,
            )
        kind = "refused" if status is FileStatus.refused else "error"
        calls.add_event(
            session=session,
            call_pk=call_pk,
            stage="source",
            kind=kind,
            detail=f"{report.source}: {report.error}",
            actor=f"source:{report.source}",
        )


def _printable(text: str) -> str:
    """``text`` with the characters a recorder's file name or sidecar may hold that do not print (a newline,
    a terminal's escape, a right-to-left override) written as escapes: a reason stays one line, and showing
    it in a terminal cannot drive that terminal."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _record(rt: Runtime, report: PollReport, *, ingested: int | None = None) -> None:
    with rt.db.transaction() as session:
        source_files.record_poll(
            session=session,
            source=report.source,
            seen=report.seen,
            ingested=len(report.fetched) if ingested is None else ingested,
            refused=report.refused,
            error=report.error,
        )
