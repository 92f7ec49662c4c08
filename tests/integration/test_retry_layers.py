"""One layer retries: a recorder or an LLM server that keeps failing gets one request per job run.

Real fetch and analyse jobs run by a Procrastinate worker on a real PostgreSQL, against loopback servers
that answer 503 a few times before they work, or ask for a wait (``Retry-After``). Between two runs the test
makes the retried job due at once instead of sleeping through the queue's backoff; the backoff itself is
what it checks the job was given.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from callsense import logs
from callsense.backends.llm.openai_compat import OpenAICompatBackend
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus, Segment, Speaker
from callsense.config import Settings
from callsense.config.fetch import FetchSettings
from callsense.config.models import LLMSettings
from callsense.config.redaction import RedactionSettings
from callsense.errors import NotFoundError
from callsense.pipeline import analyse, erasure, fetch, ingest, stalled, tasks
from callsense.runtime import Runtime, open_runtime
from tests.blobs import read_blob
from tests.conftest import AUDIO, status_of
from tests.crm_calls import ANALYSIS, store_transcribed

FAILURES = 3


class Flaky:
    """A loopback server that answers ``failure`` (503, or another status with headers) to its first
    ``failures`` requests after the first ``answered``, and ``body`` to the others; it keeps what was
    posted to it (``posted``)."""

    def __init__(self, body: bytes, content_type: str, failures: int = FAILURES, answered: int = 0) -> None:
        self.requests = 0
        self.failures = failures
        self.answered = answered
        self.failure: tuple[int, dict[str, str]] = (503, {})
        self.posted: list[bytes] = []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                flaky.requests += 1
                failing = 0 < flaky.requests - flaky.answered <= flaky.failures
                (status, headers), data = (flaky.failure, b"busy") if failing else ((200, {}), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                flaky.posted.append(self.rfile.read(int(self.headers["Content-Length"])))
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serving(flaky: Flaky) -> Iterator[Flaky]:
    threading.Thread(target=flaky.server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield flaky
    finally:
        flaky.server.shutdown()
        flaky.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Flaky]:
    with serving(Flaky((AUDIO / "en_short.mono.flac").read_bytes(), "audio/flac")) as server:
        yield server


@pytest.fixture
def dead_recorder() -> Iterator[Flaky]:
    with serving(Flaky(b"", "audio/flac", failures=10**6)) as server:
        yield server


@pytest.fixture
def llm_server() -> Iterator[Flaky]:
    answer = {"choices": [{"message": {"role": "assistant", "content": json.dumps(ANALYSIS)}}]}
    with serving(Flaky(json.dumps(answer).encode(), "application/json")) as server:
        yield server


@pytest.fixture
def rt(tmp_path: Path, model_dir: Path, database_url: str, llm_server: Flaky) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path, model_dir, database_url, llm_server)
    yield runtime
    runtime.db.close()


def _runtime(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    llm_server: Flaky,
    *,
    context_tokens: int = 4096,
    redact: bool = True,
) -> Runtime:
    settings = Settings(
        data_dir=tmp_path / "data",
        model_dir=model_dir,
        database_url=database_url,
        redaction=RedactionSettings(enabled=redact),
        fetch=FetchSettings(allow_networks=["127.0.0.0/8"]),
        llm=LLMSettings(
            backend="openai", base_url=llm_server.url + "/v1", model="stub", context_tokens=context_tokens
        ),
    )
    return open_runtime(settings)


def _job(rt: Runtime, queue: str) -> tuple[int, str, float]:
    """The stage's job: runs so far, status, and seconds until it is due."""
    with rt.db.transaction() as session:
        row = session.execute(
            text(
                "select attempts, status::text, extract(epoch from scheduled_at - now()) "
                "from procrastinate_jobs where queue_name = :queue"
            ),
            {"queue": queue},
        ).one()
    return int(row[0]), str(row[1]), float(row[2])


def _status(rt: Runtime, call_pk: uuid.UUID) -> tuple[CallStatus, str]:
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        return CallStatus(call.status), call.status_detail or ""


def _make_due(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        session.execute(text("update procrastinate_jobs set scheduled_at = now() where status = 'todo'"))


def _run_until_done(rt: Runtime, stage: str, call_pk: uuid.UUID, server: Flaky) -> None:
    """Queue ``stage`` for the call, then run the worker once per job run, checking each failed run."""
    waiting = status_of(rt, call_pk)
    app = tasks.build_app(rt)
    strategy = tasks.RETRY[stage]
    options = {**tasks.worker_options(rt, queues=[stage], concurrency=1), "wait": False}

    async def scenario() -> None:
        async with app.open_async():
            await tasks.defer_stage_async(app, stage, call_pk)
            for run in range(1, FAILURES + 1):
                await app.run_worker_async(**options, install_signal_handlers=False)
                assert server.requests == run, f"{stage} run {run} sent {server.requests} requests"
                attempts, status, due_in = _job(rt, stage)
                assert (attempts, status) == (run, "todo")
                # The queue's backoff decides the wait: between half and all of base * 2**(run-1).
                longest = strategy.base_seconds * 2 ** (run - 1)
                assert longest / 2 - 1 <= due_in <= longest + 1
                # Between two runs the call is not "failed": it waits, and says why.
                status, detail = _status(rt, call_pk)
                assert status is waiting and detail.startswith(f"{stage}: ") and "503" in detail
                assert detail.endswith("; the queue tries again later")
                _make_due(rt)
            await app.run_worker_async(**options, install_signal_handlers=False)

    asyncio.run(scenario())


def test_a_failing_recorder_gets_one_request_per_fetch_job_run(rt: Runtime, recorder: Flaky) -> None:
    call_pk = ingest.ingest(rt, call_id="flaky-recorder", source=recorder.url + "/call.flac").call_pk
    _run_until_done(rt, "fetch", call_pk, recorder)
    assert recorder.requests == FAILURES + 1
    assert status_of(rt, call_pk) is CallStatus.fetched


def test_a_failing_llm_server_gets_one_request_per_analyse_job_run(rt: Runtime, llm_server: Flaky) -> None:
    call_pk = ingest.ingest(rt, call_id="flaky-llm", source="https://recorder.example/call.flac").call_pk
    store_transcribed(rt, call_pk)
    _run_until_done(rt, "analyse", call_pk, llm_server)
    assert llm_server.requests == FAILURES + 1  # the fourth run analysed the call with one request
    assert status_of(rt, call_pk) is CallStatus.done


def _run_once(rt: Runtime, stage: str, call_pk: uuid.UUID) -> None:
    """Queue ``stage`` for the call and run the worker until it has nothing due."""
    app = tasks.build_app(rt)
    options = {**tasks.worker_options(rt, queues=[stage], concurrency=1), "wait": False}

    async def scenario() -> None:
        async with app.open_async():
            await tasks.defer_stage_async(app, stage, call_pk)
            await app.run_worker_async(**options, install_signal_handlers=False)

    asyncio.run(scenario())


def test_an_llm_server_asking_for_a_wait_is_not_asked_again_sooner(rt: Runtime, llm_server: Flaky) -> None:
    """A shared LLM server that throttles and says when to come back: the analyse job waits that long, not
    the 5 to 10 s of its first backoff."""
    llm_server.failure = (429, {"Retry-After": "120"})
    call_pk = ingest.ingest(rt, call_id="throttled-llm", source="https://recorder.example/call.flac").call_pk
    store_transcribed(rt, call_pk)
    _run_once(rt, "analyse", call_pk)
    attempts, status, due_in = _job(rt, "analyse")
    assert (attempts, status, llm_server.requests) == (1, "todo", 1)
    assert 118 <= due_in <= 121
    assert "HTTP 429" in _status(rt, call_pk)[1]


# Three parts in a 2,400-token context, where the instructions and the 600-token answer take the rest.
LONG_CALL = [
    Segment(
        speaker=(Speaker.agent, Speaker.customer)[turn % 2],
        start=4.0 * turn,
        end=4.0 * turn + 3.5,
        text=f"About order {turn}: I was charged twice for it and I want the second charge refunded.",
        confidence=0.9,
    )
    for turn in range(45)
]


def _asked(server: Flaky) -> list[str]:
    """The user message of each request the LLM server was sent (the transcript of one part, or the
    partial analyses to merge)."""
    return [json.loads(body)["messages"][1]["content"] for body in server.posted]


@contextmanager
def _long_call_refused_once(
    tmp_path: Path, model_dir: Path, database_url: str
) -> Iterator[tuple[Runtime, Flaky, uuid.UUID]]:
    """A long call whose analysis ran once and stopped at its second part: the LLM server answered the
    first, then asked for a wait (429, Retry-After: 120). Not redacted: 5 s of this call's turns, for
    nothing this checks."""
    answer = {"choices": [{"message": {"role": "assistant", "content": json.dumps(ANALYSIS)}}]}
    with serving(Flaky(json.dumps(answer).encode(), "application/json", failures=1, answered=1)) as server:
        server.failure = (429, {"Retry-After": "120"})
        rt = _runtime(tmp_path, model_dir, database_url, server, context_tokens=2400, redact=False)
        try:
            call_pk = ingest.ingest(rt, call_id="long", source="https://recorder.example/call.flac").call_pk
            store_transcribed(rt, call_pk, segments=LONG_CALL)
            _run_once(rt, "analyse", call_pk)
            assert _job(rt, "analyse")[:2] == (1, "todo") and server.requests == 2
            yield rt, server, call_pk
        finally:
            rt.db.close()


def test_a_retried_analysis_asks_only_the_parts_not_answered_yet(
    tmp_path: Path, model_dir: Path, database_url: str
) -> None:
    with _long_call_refused_once(tmp_path, model_dir, database_url) as (rt, server, call_pk):
        kept = read_blob(rt.blobs, calls.kept_answers_blob_key(call_pk))
        assert b"charged twice" not in kept and b"Acme" not in kept  # sealed, like the call's other data
        _make_due(rt)
        logs.configure(level="INFO", json_lines=False)  # an earlier in-process CLI may have set a higher one
        with capture_logs() as logged:
            _run_once(rt, "analyse", call_pk)
        assert status_of(rt, call_pk) is CallStatus.done
        first, refused, *retried = _asked(server)
        assert "part 1 of 3" in first and "part 2 of 3" in refused
        assert retried[0] == refused and first not in retried  # part 1 was not asked again
        assert len(retried) == 3  # parts 2 and 3, and merging the three
        (reuse,) = [line for line in logged if line["event"] == "analysis answers kept from an earlier run"]
        assert (reuse["reused"], reuse["asked"]) == (1, 3)
        with pytest.raises(NotFoundError):  # the stage ended: nothing of it stays
            rt.blobs.open(calls.kept_answers_blob_key(call_pk))


def test_the_answers_kept_for_a_retry_are_not_given_to_another_model(
    tmp_path: Path, model_dir: Path, database_url: str
) -> None:
    with _long_call_refused_once(tmp_path, model_dir, database_url) as (rt, server, call_pk):
        other = OpenAICompatBackend(
            base_url=server.url + "/v1", model="other", context_tokens=2400, timeout_s=60
        )
        try:
            analyse.run(dataclasses.replace(rt, llm=other), call_pk)  # the settings changed meanwhile
        finally:
            other.close()
        first, _refused, *asked = _asked(server)
        assert asked[0] == first and len(asked) == 4  # the same three parts, all asked of it, then merged
        with pytest.raises(NotFoundError):
            rt.blobs.open(calls.kept_answers_blob_key(call_pk))


def test_the_answers_kept_for_a_retry_are_erased_with_the_call(
    tmp_path: Path, model_dir: Path, database_url: str
) -> None:
    with _long_call_refused_once(tmp_path, model_dir, database_url) as (rt, _server, call_pk):
        erasure.erase(rt, call_id="long", actor="admin", reason="asked", via="cli")
        with pytest.raises(NotFoundError):
            rt.blobs.open(calls.kept_answers_blob_key(call_pk))


def test_the_answers_kept_for_a_retry_are_deleted_when_the_queue_gives_the_analysis_up(
    tmp_path: Path, model_dir: Path, database_url: str
) -> None:
    """The runs after the refused one took down their workers, the last as well: the call fails, and no run
    comes to use the answers kept for it."""
    with _long_call_refused_once(tmp_path, model_dir, database_url) as (rt, _server, call_pk):
        read_blob(rt.blobs, calls.kept_answers_blob_key(call_pk))
        with rt.db.transaction() as session:  # its last run, left doing by a worker that died in it
            session.execute(
                text("update procrastinate_jobs set status = 'doing', attempts = :runs_before"),
                {"runs_before": tasks.RETRY["analyse"].max_attempts - 1},
            )
        app = tasks.build_app(rt)

        async def recover() -> None:
            async with app.open_async():
                await stalled.recover(rt, app)

        asyncio.run(recover())
        assert _job(rt, "analyse")[1] == "failed"
        status, detail = _status(rt, call_pk)
        assert status is CallStatus.failed and "the worker running it stopped" in detail
        with pytest.raises(NotFoundError):
            read_blob(rt.blobs, calls.kept_answers_blob_key(call_pk))


@pytest.mark.parametrize("refusal", [429, 503])
def test_a_recorder_asking_for_a_wait_is_not_asked_again_sooner(
    rt: Runtime, recorder: Flaky, refusal: int
) -> None:
    """A recorder under load or a rate-limited bucket gateway that says when to come back: the fetch job
    waits that long, not the 2.5 to 5 s of its first backoff."""
    recorder.failure = (refusal, {"Retry-After": "120"})
    call_pk = ingest.ingest(rt, call_id="throttled-recorder", source=recorder.url + "/call.flac").call_pk
    _run_once(rt, "fetch", call_pk)
    attempts, status, due_in = _job(rt, "fetch")
    assert (attempts, status, recorder.requests) == (1, "todo", 1)
    assert 118 <= due_in <= 121
    assert f"answered {refusal}" in _status(rt, call_pk)[1]


def test_a_dead_recorder_gets_one_request_per_run_until_the_queue_gives_up(
    rt: Runtime, dead_recorder: Flaky
) -> None:
    call_pk = ingest.ingest(rt, call_id="dead-recorder", source=dead_recorder.url + "/call.flac").call_pk
    _run_until_the_queue_gives_up(rt, "fetch", call_pk)
    assert dead_recorder.requests == tasks.RETRY["fetch"].max_attempts
    status, detail = _status(rt, call_pk)
    assert status is CallStatus.failed and "503" in detail and "tries again" not in detail


def test_an_unexpected_error_is_retried_then_fails_the_call_for_good(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``callsense process`` does in one run: the call ends ``failed`` with the reason, not half-way
    (where the reconciler would queue the stage again every minute)."""
    runs: list[object] = []

    def crash(*args: object, **kwargs: object) -> None:
        runs.append(args)
        raise RuntimeError("the decoder crashed")

    call_pk = ingest.ingest(rt, call_id="crashing", source=str(AUDIO / "en_short.mono.flac")).call_pk
    fetch.run(rt, call_pk)
    monkeypatch.setattr("callsense.pipeline.transcribe.decode", crash)
    _run_until_the_queue_gives_up(rt, "transcribe", call_pk)
    assert len(runs) == tasks.RETRY["transcribe"].max_attempts
    assert _status(rt, call_pk) == (
        CallStatus.failed,
        "transcribe: unexpected RuntimeError (the log has where it stopped)",
    )
    assert tasks.reconcile_calls(rt, tasks.build_app(rt)) == 0


def _run_until_the_queue_gives_up(rt: Runtime, stage: str, call_pk: uuid.UUID) -> None:
    """Queue ``stage`` for the call and run the worker, the retried job made due at once, until its last run
    failed too."""
    app = tasks.build_app(rt)
    options = {**tasks.worker_options(rt, queues=[stage], concurrency=1), "wait": False}

    async def scenario() -> None:
        async with app.open_async():
            await tasks.defer_stage_async(app, stage, call_pk)
            # more worker passes than runs: nothing is left to run after the last
            for _ in range(tasks.RETRY[stage].max_attempts + 2):
                await app.run_worker_async(**options, install_signal_handlers=False)
                _make_due(rt)

    asyncio.run(scenario())
    with rt.db.transaction() as session:
        query = text("select status::text from procrastinate_jobs where queue_name = :queue")
        assert session.execute(query, {"queue": stage}).scalars().all() == ["failed"]
