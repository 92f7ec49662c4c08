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
be read now is tried again at the next poll. Neither stops the other files. A file whose takes end with no
outcome (its poller killed, an unexpected error) ``max_attempts`` times in a row is given up, with the
reason, until retried by hand (``TakeRules``). A file with no call id of its own whose audio a call of the
source has already is that recording renamed or copied: skipped, noted on that call's trail.

REST listings. Pages are read from the cursor stored with the source's status; each listed call goes
through the ingest function, which finds a call id it knows instead of registering it again, so no row per
item is needed. The recordings are left to the fetch stage on the queue: ``PollReport.registered``. An API
that answers 429 or 503 with a ``Retry-After`` is not polled again, by any poller, before that time (stored
with the source's status, ``not_before``), at most a fetch's cap (15 min) later.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

import structlog

from callsense import backoff, logs
from callsense.backends.recordings.http import FetchOptions
from callsense.backends.recordings.sources import FolderSource, Listed, Source
from callsense.backends.recordings.sources.metadata import derived_call_id
from callsense.backends.recordings.sources.rest import RestSource
from callsense.backends.recordings.sources.s3 import S3Source
from callsense.calls import source_files
from callsense.calls.source_files import FileStatus, Known, TakeEnd, Version
from callsense.config.file_sources import MAX_ATTEMPTS, DuplicateAudio, FileSourceSettings
from callsense.config.sources import CursorMode, RestSourceSettings, S3SourceSettings
from callsense.errors import (
    CallsenseError,
    ConfigError,
    PermanentError,
    SourceUnavailableError,
    UnexpectedError,
)
from callsense.pipeline import fetch, ingest
from callsense.pipeline.poll_outcomes import (
    PollReport,
    note,
    note_outage,
    note_taken,
    outage,
    patiently,
    record,
    require_same_audio,
    taken_copy,
)
from callsense.pipeline.retries import RETRY

if TYPE_CHECKING:
    from callsense.runtime import Runtime

__all__ = ["PollReport", "TakeRules", "poll", "poll_bucket", "poll_named", "poll_rest"]
log = structlog.get_logger(__name__)
Progress = Callable[[int, int], None]
SETTLED = (FileStatus.ingested, FileStatus.refused)  # nothing more to do for the file as it is


@dataclass(frozen=True)
class TakeRules:
    """How a folder or bucket source's files are taken (its settings of the same names)."""

    max_attempts: int = MAX_ATTEMPTS
    duplicate_audio: DuplicateAudio = DuplicateAudio.skip

    @classmethod
    def of(cls, settings: FileSourceSettings) -> TakeRules:
        return cls(settings.max_attempts, settings.duplicate_audio)


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
        rules=TakeRules.of(settings),
    )


def poll(
    rt: Runtime,
    source: Source,
    *,
    stable_seconds: float,
    max_files: int | None = None,
    on_progress: Progress | None = None,
    rules: TakeRules = TakeRules(),
) -> PollReport:
    """One poll of ``source``, taking at most ``max_files``; its outcome is also stored as the source's
    status."""
    report = PollReport(source=source.name)
    try:
        listed = list(source.scan())
    except SourceUnavailableError as exc:
        note(rt, report, None, FileStatus.error, str(exc))
        record(rt, report)
        return report
    report.seen = len(listed)
    ready, report.waiting, changed = _complete(rt, source.name, listed, timedelta(seconds=stable_seconds))
    for item in changed:
        _changed_after_taking(rt, report, item)
    ready = [(item, seen) for item, seen in ready if not _given_up(rt, report, item, seen, rules)]
    if max_files is not None and len(ready) > max_files:
        ready, report.left = ready[:max_files], len(ready) - max_files
    for done, (item, seen) in enumerate(ready, start=1):
        _take(rt, source, item, seen, report, rules)
        if on_progress is not None:
            on_progress(done, len(ready))
    record(rt, report)
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
        rules=TakeRules.of(source.settings),
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
        report.held_until = source_files.held(session=session, source=source.name).get(source.name)
        cursor = source_files.cursor(session=session, source=source.name) or source.settings.start_cursor
    if report.held_until is not None:
        log.info("not polled: the source's API asked to wait", source=source.name, until=report.held_until)
        return report
    for _page in range(source.settings.max_pages_per_poll):
        try:
            page = source.page(cursor)
        except SourceUnavailableError as exc:
            note(rt, report, None, FileStatus.error, str(exc) + _hold_off(rt, source.name, exc, report))
            break
        report.seen += len(page.items)
        for item in page.items:
            if item.recording is None or item.url is None:
                report.refused += 1
                note(
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
    record(rt, report, ingested=len(report.registered))
    return report


def _hold_off(rt: Runtime, source: str, exc: SourceUnavailableError, report: PollReport) -> str:
    """Keep every poller off the source for as long as its API asked (``Retry-After``), up to a fetch's
    cap (a listing asking for a day is tried again sooner); what to add to the reason."""
    wait = backoff.honouring(exc.retry_after, 0.0, cap_s=RETRY["fetch"].cap_seconds)
    if not wait:
        return ""
    with rt.db.transaction() as session:
        report.held_until = source_files.hold_off(session=session, source=source, seconds=wait)
    return f"; not polled again before {report.held_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, as it asked"


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
            elif seen.status in (FileStatus.refused, FileStatus.given_up):
                continue
            elif now - seen.seen_at >= stable:
                ready.append((item, seen))
            else:
                waiting += 1
        source_files.add_pending(session=session, source=name, versions=first)
        present = {item.key for item in listed}
        source_files.forget_unfinished(session=session, source=name, keys=sorted(set(rows) - present))
    return ready, waiting, changed


def _given_up(rt: Runtime, report: PollReport, item: Listed, seen: Known | None, rules: TakeRules) -> bool:
    """A file whose last ``max_attempts`` takes ended with no outcome (each killed its poller, or hit an
    unexpected error) is given up, with the reason where the engineer looks, instead of taken again for
    ever; ``callsense sources retry`` or a change of the file puts it back."""
    if (
        seen is None
        or seen.attempts < rules.max_attempts
        or (seen.size, seen.mtime) != (item.size, item.mtime)
    ):
        return False  # a file changed since is another version: its takes are counted afresh
    report.given_up += 1
    how = "was killed, ran out of memory or crashed" if seen.status is FileStatus.taking else "failed"
    reason = (
        f"given up after {seen.attempts} takes that ended with no outcome (the last {how}); "
        f"`callsense sources retry {report.source}` takes it again"
    )
    note(rt, report, item, FileStatus.given_up, reason, end=TakeEnd.none)
    return True


def _take(
    rt: Runtime, source: Source, item: Listed, seen: Known | None, report: PollReport, rules: TakeRules
) -> None:
    version = Version(item.key, item.size, item.mtime)
    with rt.db.transaction() as session:
        if not source_files.claim(session=session, source=source.name, version=version, seen=seen):
            return  # another poller took it
    call_pk = None
    try:
        recording = source.inspect(item)
        with source.staged(item) as local_copy:
            with open(local_copy, "rb") as audio:
                sha256 = hashlib.file_digest(audio, "sha256").hexdigest()
            derived = recording.call_id == derived_call_id(source.name, item.key)
            copy_of = derived and rules.duplicate_audio is DuplicateAudio.skip
            if copy_of and (original := taken_copy(rt, report, item, recording.call_id, sha256)) is not None:
                _finish(rt, source, item, report, original)
                return
            ingested = ingest.ingest(
                rt,
                call_id=recording.call_id,
                source=item.location,
                details=replace(recording.details, source_name=source.name),
            )
            call_pk = ingested.call_pk
            if not ingested.created:
                require_same_audio(rt, call_pk, recording.call_id, sha256)
            fetch.run(rt, call_pk, source=local_copy, local_files=True)
    except PermanentError as exc:
        report.refused += 1
        note(rt, report, item, FileStatus.refused, str(exc), call_pk)
        return
    except Exception as exc:
        _failed(rt, source, item, report, exc, call_pk)
        return
    patiently(
        lambda: note_taken(rt, source.name, item.key, call_pk)  # the database may be back only now
    )
    report.fetched.append(call_pk)
    # The call, not the file's name: a recorder's file names may hold the caller's number.
    log.info("recording taken", source=source.name, call_pk=str(call_pk))
    _finish(rt, source, item, report, call_pk)


def _failed(
    rt: Runtime, source: Source, item: Listed, report: PollReport, exc: Exception, call_pk: uuid.UUID | None
) -> None:
    """A take that failed, to try again at a later poll. An unexpected error counts towards giving the file
    up (taken again, it would fail the same way); the database or the blob store unreachable does not, and
    the poll waits for the database to say so (``patiently``), the next files then taken as usual."""
    report.failed += 1
    if outage(exc):
        note_outage(rt, report, item, exc, call_pk)
        return
    if not isinstance(exc, CallsenseError | OSError):  # a bug: logged by its type and frames
        exc = logs.unexpected(
            exc, UnexpectedError, log, "taking a file stopped on an unexpected error", source=source.name
        )
    end = TakeEnd.none if isinstance(exc, UnexpectedError) else TakeEnd.outcome
    note(rt, report, item, FileStatus.error, str(exc), call_pk, end=end)


def _finish(rt: Runtime, source: Source, item: Listed, report: PollReport, call_pk: uuid.UUID) -> None:
    """``after_ingest`` for a file taken as ``call_pk`` (or skipped as a copy of that call's recording)."""
    try:
        source.finish(item)
    except SourceUnavailableError as exc:  # taken all the same: the file stays where it was
        note(rt, report, item, FileStatus.ingested, str(exc), call_pk)


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
    note(rt, report, item, FileStatus.ingested, reason, call_pk)
