"""The durable stage queue: Procrastinate on the same PostgreSQL, one task and one queue per stage.

Jobs carry the call's id only; each stage checks what the call already has before working (see
``stages.py``), so a retried or duplicated job is harmless. After a stage commits, what it says comes next is
deferred. If the process dies between the two, the ``reconcile`` periodic task finds the call whose next
stage has no job and defers it; ``recover_stalled`` hands the jobs of workers that stopped heart-beating
(killed with SIGKILL, machine lost) back to the queue, up to their task's runs (``stalled.py``);
``sweep_blobs`` removes what writes killed midway left in the blob store (``leftovers.py``). What the queue
holds, for metrics and the operations page, is read by ``queue_figures.py``.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

import procrastinate
import structlog
from procrastinate import exceptions as procrastinate_errors
from sqlalchemy import select, text

from callsense import metrics
from callsense.calls import deliveries, source_files
from callsense.calls.models import Call, utcnow
from callsense.calls.schemas import CallStatus
from callsense.config.file_sources import FileSourceSettings
from callsense.config.queue import QueueSettings
from callsense.errors import CallGoneError
from callsense.pipeline import analyse as analyse_stage
from callsense.pipeline import categorise as categorise_stage
from callsense.pipeline import deliver as deliver_stage
from callsense.pipeline import fetch as fetch_stage
from callsense.pipeline import leftovers, retention, stages, stalled, workers
from callsense.pipeline import poll as poll_stage
from callsense.pipeline import transcribe as transcribe_stage
from callsense.pipeline.retries import DELIVERY_RETRY, RETRY, retry_strategies

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)
blueprint = procrastinate.Blueprint()

STAGES = ("fetch", "transcribe", "analyse")
# Every queue that carries calls; the maintenance queue holds the periodic tasks.
CALL_QUEUES = (*STAGES, "deliver")
# Stored calls' categories re-evaluated after a category changed (pipeline/categorise.py).
CATEGORIES_QUEUE = "categories"
NEXT_STAGE = {
    CallStatus.received: "fetch",
    CallStatus.fetched: "transcribe",
    CallStatus.transcribed: "analyse",
}


def _runtime(context: procrastinate.JobContext) -> Runtime:
    # worker_options puts it there; the pipeline imports the runtime for its type only (it sits above)
    rt = (context.additional_context or {}).get("runtime")
    if rt is None:
        raise RuntimeError("the worker was started without a callsense runtime")
    return cast("Runtime", rt)


def queueing_lock(stage: str, subject: uuid.UUID | str) -> str:
    """At most one waiting job per stage and call (or delivery): deferring it twice collapses into one."""
    return f"{stage}:{subject}"


def _defer(app: procrastinate.App, task: str, lock: str, **args: str) -> bool:
    """Queue ``task``; False when a job holding the same queueing lock is already waiting."""
    try:
        app.configure_task(f"callsense:{task}", queueing_lock=lock).defer(**args)
    except procrastinate_errors.AlreadyEnqueued:
        return False
    return True


async def _defer_async(app: procrastinate.App, task: str, lock: str, **args: str) -> bool:
    try:
        await app.configure_task(f"callsense:{task}", queueing_lock=lock).defer_async(**args)
    except procrastinate_errors.AlreadyEnqueued:
        return False
    return True


def defer_stage(app: procrastinate.App, stage: str, call_pk: uuid.UUID | str) -> bool:
    """Queue ``stage`` for the call; False when an identical job is already waiting."""
    return _defer(app, stage, queueing_lock(stage, call_pk), call_pk=str(call_pk))


async def defer_stage_async(app: procrastinate.App, stage: str, call_pk: uuid.UUID | str) -> bool:
    return await _defer_async(app, stage, queueing_lock(stage, call_pk), call_pk=str(call_pk))


@contextmanager
def _observed(context: procrastinate.JobContext, stage: str, call_pk: str) -> Iterator[None]:
    """Logs of this job carry the call and job ids; its duration lands in the stage histogram; the stage
    knows whether a retryable failure will be retried (``stages.QUEUE_RETRIES``)."""
    job_id = context.job.id if context.job else None
    runs_before = context.job.attempts if context.job else 0
    started = time.perf_counter()
    outcome = "failed"
    retries = stages.QUEUE_RETRIES.set(runs_before + 1 < RETRY[stage].max_attempts)
    with structlog.contextvars.bound_contextvars(call_pk=call_pk, job_id=job_id, stage=stage):
        try:
            yield
            outcome = "ok"
        except CallGoneError:  # erased while queued or running (pipeline/erasure.py): nothing left to do
            outcome = "gone"
            log.info("the call was erased; the job ends")
        finally:
            stages.QUEUE_RETRIES.reset(retries)
            metrics.STAGE_SECONDS.labels(stage=stage, outcome=outcome).observe(time.perf_counter() - started)


def _then(context: procrastinate.JobContext, call_pk: str, stage: str) -> None:
    app = context.app
    assert app is not None
    defer_stage(app, stage, call_pk)


@blueprint.task(name="fetch", queue="fetch", retry=RETRY["fetch"], pass_context=True)
def fetch(context: procrastinate.JobContext, call_pk: str) -> None:
    with _observed(context, "fetch", call_pk):
        _then(context, call_pk, fetch_stage.run(_runtime(context), uuid.UUID(call_pk), local_files=False))


@blueprint.task(name="transcribe", queue="transcribe", retry=RETRY["transcribe"], pass_context=True)
def transcribe(context: procrastinate.JobContext, call_pk: str) -> None:
    with _observed(context, "transcribe", call_pk):
        following = transcribe_stage.run(_runtime(context), uuid.UUID(call_pk))
        if following is not None:
            _then(context, call_pk, following)


@blueprint.task(name="analyse", queue="analyse", retry=RETRY["analyse"], pass_context=True)
def analyse(context: procrastinate.JobContext, call_pk: str) -> None:
    assert context.app is not None
    with _observed(context, "analyse", call_pk):
        for delivery_id in analyse_stage.run(_runtime(context), uuid.UUID(call_pk)):
            defer_delivery(context.app, delivery_id)


@blueprint.task(name="categorise", queue=CATEGORIES_QUEUE, retry=RETRY["categorise"], pass_context=True)
def categorise(context: procrastinate.JobContext, first: str, last: str) -> None:
    """Re-evaluate the categories of the stale calls with ids from ``first`` to ``last``."""
    categorise_stage.run_batch(_runtime(context), uuid.UUID(first), uuid.UUID(last))


def _batch_lock(first: uuid.UUID, last: uuid.UUID) -> str:
    # The whole range, not its first call: a later change can cut a batch from the same first call further
    # on (calls before it left, or were reprocessed), and a waiting job of the shorter range would have
    # swallowed it, leaving its last calls stale until the reconciler. Overlapping jobs do no harm.
    return queueing_lock("categorise", f"{first}..{last}")


def defer_categorise(app: procrastinate.App, first: uuid.UUID, last: uuid.UUID) -> bool:
    return _defer(app, "categorise", _batch_lock(first, last), first=str(first), last=str(last))


async def defer_categorise_async(app: procrastinate.App, first: uuid.UUID, last: uuid.UUID) -> bool:
    return await _defer_async(app, "categorise", _batch_lock(first, last), first=str(first), last=str(last))


def defer_delivery(app: procrastinate.App, delivery_id: uuid.UUID | str) -> bool:
    """Queue the delivery; False when a job for it is already waiting."""
    return _defer(app, "deliver", queueing_lock("deliver", delivery_id), delivery_id=str(delivery_id))


async def defer_delivery_async(app: procrastinate.App, delivery_id: uuid.UUID | str) -> bool:
    return await _defer_async(
        app, "deliver", queueing_lock("deliver", delivery_id), delivery_id=str(delivery_id)
    )


@blueprint.task(name="deliver", queue="deliver", retry=DELIVERY_RETRY, pass_context=True)
def deliver(context: procrastinate.JobContext, delivery_id: str) -> None:
    job_id = context.job.id if context.job else None
    bound = structlog.contextvars.bound_contextvars(delivery_id=delivery_id, job_id=job_id, stage="deliver")
    with bound, suppress(CallGoneError):  # its call was erased meanwhile: nothing left to deliver
        deliver_stage.run(_runtime(context), uuid.UUID(delivery_id))


def reconcile_deliveries(rt: Runtime, app: procrastinate.App) -> int:
    """Defer every pending delivery that has no job (its analyse job died before deferring it, or it was
    retried by hand); returns how many."""
    with rt.db.transaction() as session:
        waiting = deliveries.pending_ids(session=session)
        busy = {
            row[0]
            for row in session.execute(
                text(
                    "select args->>'delivery_id' from procrastinate_jobs "
                    "where status in ('todo', 'doing') and queue_name = 'deliver'"
                )
            )
        }
    deferred = 0
    for delivery_id in waiting:
        if str(delivery_id) not in busy and defer_delivery(app, delivery_id):
            log.info("reconciled", delivery_id=str(delivery_id), stage="deliver")
            deferred += 1
    return deferred


def reconcile_calls(rt: Runtime, app: procrastinate.App) -> int:
    """Defer the next stage of every call that is waiting for one but has no job; returns how many.

    Only a job of that very stage counts: a job of an earlier stage left ``doing`` (its end could not be
    recorded) must not hold the call back. A call a folder or bucket gave that waits for its download is
    left to the source's poll (one that died midway is taken over after its lease), as long as that can take:
    a fetch job refuses a file's path, failing the call (with that reason, should the file never come back).
    """
    polled = [
        source.name for source in rt.settings.sources.enabled() if isinstance(source, FileSourceSettings)
    ]
    leased = utcnow() - 2 * source_files.TAKING_LEASE
    with rt.db.transaction() as session:
        waiting = session.execute(
            select(Call.id, Call.status, Call.source_name, Call.created_at).where(
                Call.status.in_([s.value for s in NEXT_STAGE])
            )
        ).all()
        queued = {
            (row[0], row[1])
            for row in session.execute(
                text(
                    "select args->>'call_pk', queue_name from procrastinate_jobs "
                    "where status in ('todo', 'doing') and queue_name = any(:queues)"
                ),
                {"queues": list(STAGES)},
            )
        }
    deferred = 0
    for call_pk, status, source_name, created_at in waiting:
        stage = NEXT_STAGE[CallStatus(status)]
        if stage == "fetch" and source_name in polled and created_at > leased:
            continue
        if (str(call_pk), stage) not in queued and defer_stage(app, stage, call_pk):
            log.info("reconciled", call_pk=str(call_pk), stage=stage)
            deferred += 1
    return deferred


@blueprint.periodic(cron="* * * * *", periodic_id="reconcile")
@blueprint.task(name="reconcile", queue="maintenance", pass_context=True)
def reconcile(context: procrastinate.JobContext, timestamp: int) -> None:
    assert context.app is not None
    reconcile_calls(_runtime(context), context.app)
    reconcile_deliveries(_runtime(context), context.app)
    reconcile_categories(_runtime(context), context.app)


def reconcile_categories(rt: Runtime, app: procrastinate.App) -> int:
    """Queue the re-evaluation of stale calls when no job is at it (the settings' categories changed with a
    restart, or a change's jobs were never queued); returns the jobs queued."""
    busy = "select 1 from procrastinate_jobs where status in ('todo', 'doing') and queue_name = 'categories'"
    with rt.db.transaction() as session:
        if session.execute(text(busy)).first():
            return 0
    return categorise_stage.requeue(rt, functools.partial(defer_categorise, app))


# Scheduled by ``build_app``, as often as queue.stalled_after_s asks.
@blueprint.task(name="recover_stalled", queue="maintenance", pass_context=True)
async def recover_stalled(context: procrastinate.JobContext, timestamp: int) -> None:
    assert context.app is not None
    await stalled.recover(_runtime(context), context.app)


@blueprint.periodic(cron=leftovers.SWEEP_CRON, periodic_id="sweep-blobs")
@blueprint.task(name="sweep_blobs", queue="maintenance", pass_context=True)
def sweep_blobs(context: procrastinate.JobContext, timestamp: int) -> None:
    leftovers.sweep(_runtime(context).blobs)


def poll_source_now(
    rt: Runtime, app: procrastinate.App, name: str, *, on_progress: poll_stage.Progress | None = None
) -> poll_stage.PollReport:
    """Poll the source called ``name`` once; queue the transcription of each call a folder or bucket gave
    (its audio is stored already), the fetch of each new call a REST source listed."""
    report = poll_stage.poll_named(rt, name, on_progress=on_progress)
    for call_pk in report.registered:
        defer_stage(app, "fetch", call_pk)
    for call_pk in report.fetched:
        defer_stage(app, "transcribe", call_pk)
    return report


# Its own queue: a folder's poll reads the folder, so it must run where the folder is mounted.
@blueprint.task(name="poll_source", queue="sources", pass_context=True)
def poll_source(context: procrastinate.JobContext, timestamp: int, source: str) -> None:
    """One poll of a configured source; ``build_app`` schedules one per enabled source."""
    assert context.app is not None
    rt = _runtime(context)
    settings = rt.settings.sources.named(source)
    if settings is None or not settings.enabled:  # configured away since this job was queued
        return
    with structlog.contextvars.bound_contextvars(source=source, stage="poll"):
        poll_source_now(rt, context.app, source)


def source_lock(name: str) -> str:
    """One waiting and one running poll per source, whichever worker runs it."""
    return f"poll:{name}"


def build_app(rt: Runtime) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=rt.db.conninfo()))
    workers.make_resilient(app)
    # add_tasks_from moves the blueprint's tasks into the app and renames them in place; a copy keeps
    # ``blueprint`` intact for the next app built in this process (tests, benchmarks).
    app.add_tasks_from(copy.deepcopy(blueprint), namespace="callsense")
    _configure_queue(app, rt.settings.queue)
    for source in rt.settings.sources.enabled():
        app.periodic(
            cron=source.poll_cron,
            periodic_id=f"source:{source.name}",
            queueing_lock=source_lock(source.name),
            lock=source_lock(source.name),
            task_kwargs={"source": source.name},
        )(app.tasks["callsense:poll_source"])
    app.add_tasks_from(retention.schedule(rt), namespace="callsense")
    # Procrastinate logs every job at INFO; ours carry the call id instead.
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    return app


def _configure_queue(app: procrastinate.App, settings: QueueSettings) -> None:
    """The configured first waits of the stages' retries, and the stalled jobs' recovery schedule."""
    for task, strategy in retry_strategies(settings.retry_base_s).items():
        app.tasks[f"callsense:{task}"].retry_strategy = strategy
    every = settings.recovery_every_s
    # Procrastinate's cron takes seconds as a sixth field
    cron = "* * * * *" if every == 60 else f"* * * * * */{every}"
    app.periodic(cron=cron, periodic_id="recover-stalled")(app.tasks["callsense:recover_stalled"])


def queue_names() -> set[str]:
    """Every queue a task is put in, for a worker to take from."""
    return {task.queue for task in blueprint.tasks.values()}


def worker_options(rt: Runtime, *, queues: list[str] | None, concurrency: int) -> dict[str, Any]:
    return {
        "queues": queues,
        "concurrency": concurrency,
        "additional_context": {"runtime": rt},
        "update_heartbeat_interval": rt.settings.queue.heartbeat_s,
        "stalled_worker_timeout": rt.settings.queue.stalled_after_s,
        "delete_jobs": "successful",
        "worker_middleware": [workers.failures_without_messages],
    }
