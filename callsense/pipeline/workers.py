"""Procrastinate workers that ride out a database restart instead of losing track of their jobs.

Left alone, a Procrastinate worker that loses PostgreSQL for a moment stops (its heartbeat fails), and a
job that ends during the outage cannot record its end: it stays ``doing`` under a worker that is still
alive, so stalled-job recovery never hands it on and its call waits forever. Two remedies, both thin
layers over Procrastinate itself:

- ``ResilientJobManager`` retries the worker's own bookkeeping (fetching a job, heart-beating, recording a
  job's end) while the database is unreachable, so an outage delays a job instead of orphaning it;
- ``run_worker_supervised`` starts a fresh worker whenever one stops on its own or on a database error, after
  a pause that grows while it keeps stopping.

An API-only ``serve`` runs no worker, yet runs this version's code against the schema: ``announce_presence``
gives it the workers' heartbeat, so that ``db upgrade`` sees it too (``db.running_workers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import procrastinate
import structlog
from procrastinate import exceptions as procrastinate_errors
from procrastinate import jobs as procrastinate_jobs
from procrastinate.manager import JobManager
from tenacity import AsyncRetrying

from callsense import db, logs
from callsense.errors import CallsenseError, UnexpectedError

log = structlog.get_logger(__name__)
T = TypeVar("T")


async def failures_without_messages(
    call_next: Callable[[], Awaitable[Any]], context: procrastinate.JobContext, _: Any
) -> Any:
    """A worker middleware: a job that stops on an exception of no callsense kind (a task's bug, a library's
    failure) hands Procrastinate its type and frames only, as a stage does (``logs.unexpected``), and a
    callsense error comes without the library error it was raised from.
    Procrastinate logs a job's last failure with the exception's message, which may quote what a library
    was handed: a delivery's note, a question asked about a call, a CRM's answer."""
    try:
        return await call_next()
    except procrastinate_errors.ProcrastinateException:
        raise  # an abort stays an abort
    except CallsenseError as raised:
        # Its message names the rule broken, never the text; the library error it was raised from is cut.
        raise raised from None
    except Exception as raised:
        task = context.job.task_name if context.job else None
        raise logs.unexpected(
            raised, UnexpectedError, log, "job stopped on an unexpected error", task=task
        ) from None


# How long the worker's bookkeeping waits for the database before giving up (the worker then stops,
# and the supervisor starts a new one).
OUTAGE_PATIENCE_SECONDS = 600.0
# Pauses between two worker starts while the database stays away: doubling from the first to the longest.
RESTART_PAUSE_FIRST_SECONDS = 1.0
RESTART_PAUSE_MAX_SECONDS = 30.0
# Procrastinate's own heartbeat query, told whether the row is still there (stalled-worker pruning deletes
# the row of a process silent for 2 minutes, e.g. through a long database outage).
_BEAT = "update procrastinate_workers set last_heartbeat = now() where id = %(worker_id)s returning id"


async def _patiently(operation: str, call: Callable[[], Awaitable[T]]) -> T:
    async for attempt in AsyncRetrying(**db.while_unreachable(operation, patience_s=OUTAGE_PATIENCE_SECONDS)):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or re-raises")


class ResilientJobManager(JobManager):
    """Procrastinate's job manager, with the calls a worker makes in its loop retried through an outage."""

    async def fetch_job(self, queues: Iterable[str] | None, worker_id: int) -> procrastinate_jobs.Job | None:
        return await _patiently("fetch_job", lambda: JobManager.fetch_job(self, queues, worker_id))

    async def update_heartbeat(self, worker_id: int) -> None:
        await _patiently("heartbeat", lambda: JobManager.update_heartbeat(self, worker_id))

    async def finish_job(
        self, job: procrastinate_jobs.Job, status: procrastinate_jobs.Status, delete_job: bool
    ) -> None:
        await _patiently("finish_job", lambda: JobManager.finish_job(self, job, status, delete_job))

    async def retry_job(
        self,
        job: procrastinate_jobs.Job,
        retry_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        lock: str | None = None,
    ) -> None:
        await _patiently(
            "retry_job", lambda: JobManager.retry_job(self, job, retry_at, priority, queue, lock)
        )


def make_resilient(app: procrastinate.App) -> None:
    """Swap in the resilient job manager; call before tasks are added, which capture the manager."""
    app.job_manager = ResilientJobManager(connector=app.connector)


async def run_worker_supervised(app: procrastinate.App, options: dict[str, Any]) -> None:
    """Run a worker until this coroutine is cancelled, starting a new one whenever it stops by itself.

    The jobs a stopped worker held are handed on by stalled-job recovery (see ``tasks.recover_stalled``).
    Cancelling stops the current worker gracefully: running jobs finish first.
    """
    options = {**options, "install_signal_handlers": False}  # the caller decides when to stop
    pause = RESTART_PAUSE_FIRST_SECONDS
    while True:
        started = time.monotonic()
        try:
            await app.run_worker_async(**options)
            log.warning("worker stopped by itself; starting a new one", pause_s=pause)
        except procrastinate_errors.ConnectorException as exc:
            if db.unreachable(exc):
                log.warning(
                    "worker lost the database; starting a new one", error=str(exc.__cause__), pause_s=pause
                )
            else:
                # A query the database refused (a data file it could not read while its directory was
                # being restored, a full disk): left stopped, a serve would go on taking calls no one
                # processes. Named by its kind and SQLSTATE only: the message may quote a row's values.
                log.error(
                    "worker stopped on a database error; starting a new one",
                    error=type(exc.__cause__).__name__,
                    sqlstate=getattr(exc.__cause__, "sqlstate", None),
                    pause_s=pause,
                )
        if time.monotonic() - started > 60:
            pause = RESTART_PAUSE_FIRST_SECONDS  # it had been running fine: this is a new outage
        await asyncio.sleep(pause)
        pause = min(pause * 2, RESTART_PAUSE_MAX_SECONDS)


async def announce_presence(app: procrastinate.App, *, heartbeat_s: float) -> None:
    """Until cancelled, keep this process registered with the queue as a worker that takes no job, with a
    worker's heartbeat every ``heartbeat_s``; then unregister it. The heartbeat is this process's own (a
    queued job would run on any worker), so it is a loop of its own, as Procrastinate's worker's is."""
    worker_id: int | None = None
    registering: asyncio.Future[int] | None = None
    try:
        while True:
            try:
                if worker_id is None or not await app.connector.execute_query_all_async(
                    _BEAT, worker_id=worker_id
                ):  # not registered yet, or pruned after a long outage
                    # Shielded: stopped while its row is written, the process still learns its id below and
                    # removes the row; it was left counted as running until it went stale.
                    registering = asyncio.ensure_future(app.job_manager.register_worker())
                    worker_id = await asyncio.shield(registering)
            except procrastinate_errors.ConnectorException as exc:
                if not db.unreachable(exc):
                    raise
                log.warning("database unreachable; retrying", operation="heartbeat")
            await asyncio.sleep(heartbeat_s)
    finally:
        with contextlib.suppress(procrastinate_errors.ConnectorException):  # the database may be gone
            if registering is not None:
                worker_id = await registering  # the latest registration's id, once it is written
            if worker_id is not None:
                await app.job_manager.unregister_worker(worker_id)
