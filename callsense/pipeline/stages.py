"""What every stage of a call shares: its audit trail, its failure handling, and how it tells it is done.

Every stage is idempotent: it first checks what the call already has and skips work that is done (unless
forced), writes its results, the call's new status and its audit event in one transaction, and on failure
stores ``failed`` with the reason and nothing else. A queue worker can therefore retry any stage at any time;
two runs at once store the results of the first to commit (``lost_race``), unless the call was reprocessed
after one began: then the later request wins and that run stores nothing (``superseded``).
When the queue will run the stage again (``QUEUE_RETRIES``), a retryable failure leaves the status as it was,
with the reason as its detail: the call is not ``failed`` between two runs.

Each stage's ``run(rt, call_pk, ...)`` returns what comes next (the next stage, the deliveries to send, or
None), so whoever runs the stages needs not read the call again to decide.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal

import structlog
from sqlalchemy.orm import Session

from callsense import logs
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallStatus
from callsense.errors import CallGoneError, CallsenseError, UnexpectedStageError

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)

Stage = Literal["fetch", "transcribe", "analyse"]
# True inside a queue job that the queue runs again after a retryable failure (set by ``tasks.py``).
QUEUE_RETRIES: ContextVar[bool] = ContextVar("queue_retries", default=False)


@contextmanager
def audited(rt: Runtime, call_pk: uuid.UUID, stage: Stage) -> Iterator[None]:
    """Audit the stage's start, and on error mark the call failed with the reason, in its own transaction.

    An exception of no callsense kind is logged with its traceback, its message left out, and raised as
    ``UnexpectedStageError``: the call does not stay half-way, and the queue retries it as any error it
    cannot tell permanent.

    Log lines written meanwhile carry the call's id as the recording system knows it."""
    with rt.db.transaction() as session:
        call_id = calls.lock(session=session, call_pk=call_pk).call_id
        calls.add_event(session=session, call_pk=call_pk, stage=stage, kind="started")
    started = time.perf_counter()
    try:
        with structlog.contextvars.bound_contextvars(call_id=call_id):
            yield
    except CallGoneError:
        raise  # erased meanwhile: there is no call left to mark failed
    except Exception as raised:
        exc = (
            raised
            if isinstance(raised, CallsenseError)
            else logs.unexpected(
                raised,
                UnexpectedStageError,
                log,
                "stage stopped on an unexpected error",
                call_pk=str(call_pk),
                stage=stage,
            )
        )
        log.info("stage failed", call_pk=str(call_pk), stage=stage, error=str(exc), retryable=exc.retryable)
        again = runs_again(exc)
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            _record_failure(
                session, call, stage, str(exc), again=again, seconds=time.perf_counter() - started
            )
        if exc is raised:
            raise
        raise exc from None  # not chained: the queue's log of the job would print the message left out


def runs_again(exc: BaseException) -> bool:
    """Whether the queue runs the stage again after it failed with ``exc`` (as ``audited`` raised it)."""
    return isinstance(exc, CallsenseError) and exc.retryable and QUEUE_RETRIES.get()


def _record_failure(
    session: Session, call: Call, stage: Stage, reason: str, *, again: bool, seconds: float | None
) -> None:
    """The reason as the call's status detail and a ``failed`` event; ``again``: the queue runs the stage
    again, so the call keeps its status meanwhile."""
    status = CallStatus(call.status) if again else CallStatus.failed
    detail = f"{stage}: {reason}" + ("; the queue tries again later" if again else "")
    calls.set_status(session=session, call=call, status=status, detail=detail)
    calls.add_event(
        session=session, call_pk=call.id, stage=stage, kind="failed", detail=reason, seconds=seconds
    )


def give_up(rt: Runtime, call_pk: uuid.UUID, stage: Stage, reason: str) -> None:
    """The queue runs the stage no more (every worker that ran it died in it): the call ``failed`` with
    the reason, unless the stage stored its results before the worker died, or the call was erased."""
    with rt.db.transaction() as session:
        try:
            call = calls.lock(session=session, call_pk=call_pk)
        except CallGoneError:
            return
        if not is_done(call, stage):
            _record_failure(session, call, stage, reason, again=False, seconds=None)


def lost_race(call: Call, stage: Stage, *, force: bool) -> bool:
    """True when another run of ``stage`` stored its results while this one worked (a job handed on as
    stalled while its worker still ran it, ``callsense process --force`` beside a worker). Asked under the
    call's row lock just before storing: the results stored first stand (a CRM may have been sent them);
    a forced run writes over them, as it was asked to."""
    if force or not is_done(call, stage):
        return False
    log.info("another run of the stage finished first; its results stand", call_pk=str(call.id), stage=stage)
    return True


def superseded(call: Call, generation: int) -> bool:
    """True when the call was reprocessed (``calls.generation`` raised) since this run read ``generation``:
    the later request wins, so this run stores nothing and leaves the call to the request's own run, which
    may use other settings (a model, a language, a source's words) than this one began with. Asked under the
    call's row lock just before storing."""
    if call.generation == generation:
        return False
    log.info("the call was reprocessed while this run worked; its results are dropped", call_pk=str(call.id))
    return True


def is_done(call: Call, stage: Stage) -> bool:
    """Judged from the stored results, not the status, so a retry after a later stage failed resumes there."""
    if stage == "fetch":  # a transcript without a recording: redaction discarded the original
        return call.audio_blob is not None or call.transcript is not None
    if stage == "transcribe":
        return call.transcript is not None
    if call.status == CallStatus.transcribed.value:
        # an analysis beside it is of an earlier transcript: a forced transcription (`process --force`)
        # stopped before its analysis; taken for done, the call would never end `done`
        return False
    return call.analysis is not None or call.status == CallStatus.no_speech.value
