"""The job queue's safety nets on a real PostgreSQL: the reconciler, and workers that ride out an outage."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import procrastinate
import procrastinate.testing
import psycopg
import pytest
import structlog.testing
from procrastinate import exceptions as procrastinate_errors
from sqlalchemy import text

from callsense import logs
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.config import Settings
from callsense.config.queue import QueueSettings, RetryBases
from callsense.errors import LLMUnavailableError
from callsense.pipeline import ingest, tasks, workers
from callsense.runtime import Runtime, open_runtime
from tests.conftest import status_of


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    yield runtime
    runtime.db.close()


@pytest.fixture
def queue(rt: Runtime) -> Iterator[procrastinate.App]:
    app = tasks.build_app(rt)
    with app.open():
        yield app


def _call_waiting_for(rt: Runtime, status: CallStatus, call_id: str) -> str:
    """A call whose stage committed but whose next job was never deferred (the process died in between)."""
    call_pk = ingest.ingest(rt, call_id=call_id, source="https://recorder.example/a.wav").call_pk
    with rt.db.transaction() as session:
        calls.set_status(session=session, call=calls.lock(session=session, call_pk=call_pk), status=status)
    return str(call_pk)


def _jobs(rt: Runtime) -> list[tuple[str, str, str]]:
    with rt.db.transaction() as session:
        rows = session.execute(
            text("select args->>'call_pk', queue_name, status::text from procrastinate_jobs order by id")
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def test_reconciler_defers_the_missing_next_stage_once(rt: Runtime, queue: procrastinate.App) -> None:
    fetched = _call_waiting_for(rt, CallStatus.fetched, "lost-transcribe")
    transcribed = _call_waiting_for(rt, CallStatus.transcribed, "lost-analyse")
    _call_waiting_for(rt, CallStatus.done, "finished")

    assert tasks.reconcile_calls(rt, queue) == 2
    assert sorted(_jobs(rt)) == sorted([(fetched, "transcribe", "todo"), (transcribed, "analyse", "todo")])
    assert tasks.reconcile_calls(rt, queue) == 0  # already queued: nothing doubles


def test_a_job_of_an_earlier_stage_stuck_doing_does_not_hold_the_call_back(
    rt: Runtime, queue: procrastinate.App
) -> None:
    call_pk = _call_waiting_for(rt, CallStatus.fetched, "stuck-fetch")
    with rt.db.transaction() as session:  # its fetch job ran, but its end was never recorded
        session.execute(
            text(
                "insert into procrastinate_jobs (queue_name, task_name, args, status) "
                "values ('fetch', 'callsense:fetch', cast(:args as jsonb), 'doing')"
            ),
            {"args": json.dumps({"call_pk": call_pk})},
        )
    assert tasks.reconcile_calls(rt, queue) == 1
    assert (call_pk, "transcribe", "todo") in _jobs(rt)


def _stalled(rt: Runtime, queue_name: str, args: dict[str, str], *, runs_before: int) -> int:
    """A job left ``doing`` by a worker that died in it, in its run ``runs_before + 1``; its id."""
    insert = (
        "insert into procrastinate_jobs (queue_name, task_name, args, status, attempts) "
        "values (:queue, :task, cast(:args as jsonb), 'doing', :attempts) returning id"
    )
    values = {"queue": queue_name, "task": f"callsense:{queue_name}", "args": json.dumps(args)}
    with rt.db.transaction() as session:
        return int(session.execute(text(insert), {**values, "attempts": runs_before}).scalar_one())


def _job_state(rt: Runtime, job_id: int) -> tuple[str, int]:
    with rt.db.transaction() as session:
        row = session.execute(
            text("select status::text, attempts from procrastinate_jobs where id = :id"), {"id": job_id}
        ).one()
    return row[0], row[1]


def _recover_stalled(rt: Runtime) -> None:
    """The periodic job as the schedule queues it, run by a real worker of the maintenance queue (which
    closes its app when it returns: an app of its own)."""
    app = tasks.build_app(rt)
    with app.open():
        app.configure_task("callsense:recover_stalled").defer(timestamp=int(time.time()))
    app.run_worker(wait=False, **tasks.worker_options(rt, queues=["maintenance"], concurrency=1))


def test_a_call_that_kills_every_worker_fails_once_its_stage_has_used_its_runs(
    rt: Runtime, queue: procrastinate.App
) -> None:
    """A recording that takes down each worker that transcribes it (the OOM killer, a decoder that crashes):
    handed back while the stage has runs left, then given up with the reason on the call, instead of
    killing a worker every minute for ever while the call waits with no word of why."""
    runs = tasks.RETRY["transcribe"].max_attempts
    call_pk = _call_waiting_for(rt, CallStatus.fetched, "poison")
    job_id = _stalled(rt, "transcribe", {"call_pk": call_pk}, runs_before=runs - 2)
    _recover_stalled(rt)
    assert _job_state(rt, job_id) == ("todo", runs - 1)  # one run left: handed back
    assert status_of(rt, uuid.UUID(call_pk)) is CallStatus.fetched

    with rt.db.transaction() as session:  # its last run took down the next worker too
        session.execute(text("update procrastinate_jobs set status = 'doing' where id = :id"), {"id": job_id})
    _recover_stalled(rt)
    assert _job_state(rt, job_id)[0] == "failed"
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=uuid.UUID(call_pk))
        failures = [e.detail for e in calls.events(session=session, call_pk=call.id) if e.kind == "failed"]
        assert call.status == CallStatus.failed.value
        assert call.status_detail == f"transcribe: {failures[0]}"
    assert failures == [_given_up(runs)]
    assert tasks.reconcile_calls(rt, queue) == 0  # failed for good: not queued again

    # A delivery's job whose workers all died: dead-lettered with the reason, not retried every minute.
    with rt.db.transaction() as session:
        deliveries.add_outbox(session=session, call_pk=uuid.UUID(call_pk), destinations=["crm"])
        (delivery_id,) = deliveries.pending_ids(session=session, call_pk=uuid.UUID(call_pk))
    runs = tasks.DELIVERY_RETRY.fallback.max_attempts
    _stalled(rt, "deliver", {"delivery_id": str(delivery_id)}, runs_before=runs - 1)
    _recover_stalled(rt)
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        assert (delivery.status, delivery.last_error) == ("dead", _given_up(runs))


def _given_up(runs: int) -> str:
    return (
        "the worker running it stopped without finishing (killed, out of memory or crashed), "
        f"in the last of its {runs} runs; the queue gives up"
    )


def test_a_stage_that_committed_before_its_worker_died_is_not_failed_when_its_job_is_given_up(
    rt: Runtime,
) -> None:
    silent = _call_waiting_for(rt, CallStatus.no_speech, "committed-then-killed")
    job_id = _stalled(rt, "analyse", {"call_pk": silent}, runs_before=tasks.RETRY["analyse"].max_attempts - 1)
    _recover_stalled(rt)
    assert _job_state(rt, job_id)[0] == "failed"
    assert status_of(rt, uuid.UUID(silent)) is CallStatus.no_speech


def _lost_connection() -> procrastinate_errors.ConnectorException:
    error = procrastinate_errors.ConnectorException()
    error.__cause__ = psycopg.OperationalError("server closed the connection unexpectedly")
    return error


def test_bookkeeping_waits_out_a_lost_connection_but_not_a_rejected_query() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _lost_connection()
        return "recorded"

    assert asyncio.run(workers._patiently("finish_job", flaky)) == "recorded"
    assert len(attempts) == 3

    async def rejected() -> None:
        error = procrastinate_errors.ConnectorException()
        error.__cause__ = psycopg.errors.RaiseException("job not in 'doing' status")
        raise error

    with pytest.raises(procrastinate_errors.ConnectorException):
        asyncio.run(workers._patiently("finish_job", rejected))


def test_a_worker_that_stops_by_itself_is_started_again_until_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "RESTART_PAUSE_FIRST_SECONDS", 0.01)
    starts: list[dict[str, Any]] = []

    class StoppingApp:
        async def run_worker_async(self, **options: Any) -> None:
            starts.append(options)
            if len(starts) == 1:
                raise _lost_connection()  # lost the database at start
            if len(starts) == 3:
                # A query the database refused: seen in CI while a test made the data directory unreadable.
                error = procrastinate_errors.ConnectorException()
                error.__cause__ = psycopg.errors.InsufficientPrivilege('could not open file "base/5/16531"')
                raise error
            if len(starts) == 4:
                await asyncio.Event().wait()  # finally runs until cancelled

    async def scenario() -> None:
        task = asyncio.create_task(workers.run_worker_supervised(StoppingApp(), {"concurrency": 2}))  # type: ignore[arg-type]
        while len(starts) < 4 and not task.done():
            await asyncio.sleep(0.01)
        assert not task.done(), f"the supervisor stopped after {len(starts)} starts"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with structlog.testing.capture_logs() as captured:
        asyncio.run(scenario())
    assert len(starts) == 4
    assert all(options == {"concurrency": 2, "install_signal_handlers": False} for options in starts)
    refused = [entry for entry in captured if entry["log_level"] == "error"]
    assert [(entry["event"], entry["error"], entry["sqlstate"]) for entry in refused] == [
        ("worker stopped on a database error; starting a new one", "InsufficientPrivilege", "42501")
    ]
    assert "16531" not in json.dumps(captured, default=str)  # the database's message is not logged


def test_a_worker_stopped_for_an_upgrade_finishes_the_job_it_is_running() -> None:
    """What SIGTERM does to ``callsense worker`` (it cancels the supervised worker): the running job ends
    as succeeded before the worker returns, so a rolling restart loses no work in flight."""
    app = procrastinate.App(connector=procrastinate.testing.InMemoryConnector())
    started, finished = asyncio.Event(), []

    @app.task(name="slow")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(True)

    async def scenario() -> None:
        async with app.open_async():
            await slow.defer_async()
            worker = asyncio.create_task(workers.run_worker_supervised(app, {"wait": True}))
            await started.wait()
            worker.cancel()  # mid-job
            with pytest.raises(asyncio.CancelledError):
                await worker

    asyncio.run(scenario())
    assert finished == [True]
    assert [job["status"] for job in app.connector.jobs.values()] == ["succeeded"]  # type: ignore[attr-defined]


CARD = "4111 1111 1111 1111"


def _quoting_value_error() -> None:
    raise ValueError(f"input_value='my card is {CARD}'")


def _quoting_cause() -> None:
    try:
        _quoting_value_error()
    except ValueError as exc:
        raise LLMUnavailableError("the LLM server did not answer") from exc


def test_a_job_that_fails_for_good_is_logged_without_a_message_that_quotes_the_call(
    rt: Runtime, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Procrastinate logs a job's last failure with its exception, message and chain: a task's bug or a
    library's error quoting what it was handed (a delivery's note) is logged by its type and frames."""
    app = tasks.build_app(rt)
    for stop in (_quoting_value_error, _quoting_cause):
        app.task(name=stop.__name__, queue="maintenance")(stop)
    with app.open():
        for stop in (_quoting_value_error, _quoting_cause):
            app.configure_task(stop.__name__).defer()
    logs.configure(level="INFO", json_lines=False)
    app.run_worker(wait=False, **tasks.worker_options(rt, queues=["maintenance"], concurrency=1))
    own = "".join(capsys.readouterr())
    assert caplog.text.count("ended with status: Error") == 2 and CARD not in caplog.text + own
    assert "in _quoting_value_error" in own  # the frames it stopped in


QUICK = QueueSettings(heartbeat_s=0.5, stalled_after_s=2, retry_base_s=RetryBases(transcribe=0.5))


def test_the_queue_settings_reach_the_workers_the_retries_and_the_recovery_schedule(
    settings: Settings,
) -> None:
    rt = open_runtime(settings.model_copy(update={"queue": QUICK}))
    try:
        app = tasks.build_app(rt)
        assert app.tasks["callsense:transcribe"].retry_strategy == dataclasses.replace(
            tasks.RETRY["transcribe"], base_seconds=0.5
        )
        assert app.tasks["callsense:fetch"].retry_strategy == tasks.RETRY["fetch"]  # left at its default
        schedule = {key[0]: task.cron for key, task in app.periodic_registry.periodic_tasks.items()}
        assert schedule["callsense:recover_stalled"] == "* * * * * */4"  # every twice stalled_after_s
        options = tasks.worker_options(rt, queues=None, concurrency=1)
        assert (options["update_heartbeat_interval"], options["stalled_worker_timeout"]) == (0.5, 2)
    finally:
        rt.db.close()
    rt = open_runtime(settings)
    try:
        default = tasks.build_app(rt)
        schedule = {key[0]: task.cron for key, task in default.periodic_registry.periodic_tasks.items()}
        assert schedule["callsense:recover_stalled"] == "* * * * *"
    finally:
        rt.db.close()


def test_a_job_is_taken_as_stalled_after_the_configured_silence(settings: Settings) -> None:
    """A worker silent for 3 s: its job is handed back with stalled_after_s 2, not at the default 30."""
    quick = open_runtime(settings.model_copy(update={"queue": QUICK}))
    default = open_runtime(settings)
    try:
        call_pk = _call_waiting_for(default, CallStatus.fetched, "quiet-worker")
        job_id = _stalled(default, "transcribe", {"call_pk": call_pk}, runs_before=0)
        with default.db.transaction() as session:
            worker_id = session.execute(text("select * from procrastinate_register_worker_v1()")).scalar_one()
            session.execute(
                text("update procrastinate_workers set last_heartbeat = now() - interval '3 seconds'")
            )
            session.execute(
                text("update procrastinate_jobs set worker_id = :worker where id = :id"),
                {"worker": worker_id, "id": job_id},
            )
        _recover_stalled(default)
        assert _job_state(default, job_id) == ("doing", 0)
        _recover_stalled(quick)
        assert _job_state(default, job_id) == ("todo", 1)
    finally:
        quick.db.close()
        default.db.close()
