"""Jobs whose worker stopped heart-beating (SIGKILL, the OOM killer, a crash, a lost machine): handed back to
the queue while their task has runs left, then given up as a job whose last run failed.

Each hand-back counts as a run (Procrastinate adds one to the job's attempts), and the task's own retry
strategy decides, as it does after an error: a recording that takes down every worker that transcribes it
(the OOM killer on a huge file, a decoder that crashes) ends its call ``failed`` with the reason after the
stage's runs, instead of killing a worker every minute for ever while the call waits with no word of why.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, cast

import procrastinate
import structlog
from procrastinate.jobs import Job, Status

from callsense.errors import WorkerLostError
from callsense.pipeline import deliver, kept_answers, stages

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)


async def recover(rt: Runtime, app: procrastinate.App) -> None:
    """Hand back or give up every job whose worker has been silent for ``queue.stalled_after_s``."""
    manager = app.job_manager
    silent_s = rt.settings.queue.stalled_after_s
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=silent_s):
        if _runs_again(app, job):
            log.warning("recovering stalled job", job_id=job.id, task=job.task_name)
            await manager.retry_job(job)
            continue
        runs = job.attempts + 1
        log.error(
            "giving up a job whose worker stopped in its last run",
            job_id=job.id,
            task=job.task_name,
            runs=runs,
        )
        reason = (
            "the worker running it stopped without finishing (killed, out of memory or crashed), "
            f"in the last of its {runs} runs; the queue gives up"
        )
        await asyncio.to_thread(_give_up, rt, job, reason)
        await manager.finish_job(job, status=Status.FAILED, delete_job=False)
    await manager.prune_stalled_workers(seconds_since_heartbeat=silent_s * 4)


def _runs_again(app: procrastinate.App, job: Job) -> bool:
    """What the job's retry strategy says after a run lost with its worker; a task without one (the periodic
    maintenance, a source's poll) is run again as before."""
    task = app.tasks.get(job.task_name)
    strategy = task.retry_strategy if task is not None else None
    if strategy is None:
        return True
    lost = WorkerLostError("the worker running the job stopped heart-beating")
    return strategy.get_retry_decision(exception=lost, job=job) is not None


def _give_up(rt: Runtime, job: Job, reason: str) -> None:
    """Say so where the operator looks: the call's status, or the delivery's dead letter."""
    arguments = job.task_kwargs
    if "call_pk" in arguments:
        stage = cast("stages.Stage", job.task_name.removeprefix("callsense:"))
        call_pk = uuid.UUID(str(arguments["call_pk"]))
        stages.give_up(rt, call_pk, stage, reason)
        if stage == "analyse":  # no run comes to use, or delete, what the lost ones were answered
            kept_answers.delete(rt, call_pk)
    elif "delivery_id" in arguments:
        deliver.give_up(rt, uuid.UUID(str(arguments["delivery_id"])), reason)
