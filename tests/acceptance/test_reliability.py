"""Nothing lost: 20 calls in flight, a worker killed with SIGKILL mid-transcription, PostgreSQL restarted.

Runs against the machine's PostgreSQL server (127.0.0.1:5432), restarted with pg_ctlcluster, with the API
and two worker processes. The LLM here is a loopback OpenAI-compatible server answering a fixed valid
analysis at once: this test is about the queue, and 20 real analyses would cost minutes on two cores
(the real model is exercised by test_cli.py and test_service.py).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from callsense.config.queue import RetryBases
from tests.acceptance.test_service import SECRET, recordings, signed  # noqa: F401
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.external_pg]
CALLS = 20
ANALYSIS = {
    "summary": ["Caller asked about an order."],
    "topic": "Orders and delivery",
    "topic_detail": "Order status",
    "issues": [],
    "agent_todo": [],
    "customer_todo": [],
    "outcome": "ynn",
    "sentiment": "Neutral",
    "emotion": "Calm",
    "agent_sentiment": "Neutral",
    "customer_sentiment": "Neutral",
    "agent_trend": "0000",
    "customer_trend": "0000",
}


# The queue's waits made short, so that the same recoveries take seconds: the killed worker's job is taken
# as stalled 2 s after its last heartbeat (looked for every 4 s, not 30 s and every minute), and the jobs
# the restart failed run again after 1 s (the least a retry waits), not 5 or 10 s and more.
QUICK_QUEUE = {
    "CALLSENSE_QUEUE__HEARTBEAT_S": "0.5",
    "CALLSENSE_QUEUE__STALLED_AFTER_S": "2",
    **{f"CALLSENSE_QUEUE__RETRY_BASE_S__{stage.upper()}": "0.5" for stage in RetryBases.model_fields},
}


@pytest.fixture
def instant_llm() -> Iterator[str]:
    """An OpenAI-compatible LLM server on loopback that always answers json.dumps(ANALYSIS)."""
    with openai_answering(json.dumps(ANALYSIS)) as url:
        yield url


def _restart_postgresql(url: str) -> None:
    """Restart the machine's cluster serving ``url`` (CS_TEST_EXTERNAL_PG may name a private one, so that a
    run does not pull the shared server from under other tests)."""
    port = make_url(url).port or 5432
    listed = subprocess.run(["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True)
    version, cluster = next(
        (fields[0], fields[1])
        for fields in map(str.split, listed.stdout.splitlines())
        if fields[2] == str(port)
    )
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"], check=True)


def _query(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)).all())
    finally:
        engine.dispose()


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None, reason="needs the machine's PostgreSQL cluster tools"
)
def test_killed_worker_and_restarted_database_lose_nothing(
    external_database_url: str,
    instant_llm: str,
    recordings: str,  # noqa: F811  (the fixture, imported from test_service)
    tmp_path: Path,
) -> None:
    env = callsense_env(
        tmp_path / "data",
        CALLSENSE_DATABASE_URL=external_database_url,
        CALLSENSE_WEBHOOKS__SECRETS=json.dumps([SECRET]),
        CALLSENSE_FETCH__ALLOW_NETWORKS=json.dumps(["127.0.0.0/8"]),
        CALLSENSE_LLM__BACKEND="openai",
        CALLSENSE_LLM__BASE_URL=instant_llm,
        CALLSENSE_LLM__MODEL="instant",
        **QUICK_QUEUE,
    )
    logs = (tmp_path / "processes.log").open("w")
    port = free_port()
    processes = {
        "api": subprocess.Popen(
            [CALLSENSE, "serve", "--port", str(port), "--worker-concurrency", "0"],
            env=env,
            stdout=logs,
            stderr=logs,
        ),
        "doomed": subprocess.Popen([CALLSENSE, "worker"], env=env, stdout=logs, stderr=logs),
    }
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        for index in range(CALLS):
            body, headers = signed(
                {"call_id": f"load-{index:02d}", "recording_url": f"{recordings}/en_short.mono.flac"}
            )
            assert httpx.post(f"{url}/webhooks/recording", content=body, headers=headers).status_code == 202

        # SIGKILL the only worker while it is transcribing: its job is left 'doing' with no one on it.
        deadline = time.monotonic() + 120
        while not _query(
            external_database_url,
            "select 1 from procrastinate_jobs where queue_name = 'transcribe' and status = 'doing'",
        ):
            assert time.monotonic() < deadline, "no transcription started"
            time.sleep(0.2)
        processes["doomed"].send_signal(signal.SIGKILL)
        processes["doomed"].wait()
        processes["survivor"] = subprocess.Popen(
            [CALLSENSE, "worker", "--concurrency", "2"], env=env, stdout=logs, stderr=logs
        )

        # Once a few calls are through, restart the database under everyone's feet.
        deadline = time.monotonic() + 180
        while _query(external_database_url, "select count(*) from calls where status = 'done'")[0][0] < 5:
            assert time.monotonic() < deadline, "calls are not progressing"
            time.sleep(0.5)
        _restart_postgresql(external_database_url)

        deadline = time.monotonic() + 420
        while True:
            try:
                done = _query(external_database_url, "select count(*) from calls where status = 'done'")[0][0]
            except Exception:  # the server may still be coming back
                done = 0
            if done == CALLS:
                break
            assert time.monotonic() < deadline, (
                f"only {done}/{CALLS} calls done; see {tmp_path / 'processes.log'}"
            )
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()

    assert _query(external_database_url, "select count(*), count(distinct call_id) from calls")[0] == (
        CALLS,
        CALLS,
    )
    per_stage = _query(
        external_database_url,
        "select c.call_id, e.stage, count(*) from calls c join events e on e.call_pk = c.id "
        "where e.kind = 'finished' group by 1, 2",
    )
    assert len(per_stage) == CALLS * 3
    assert {count for _, _, count in per_stage} == {1}, "a stage finished twice for some call"
    assert _query(external_database_url, "select count(*) from transcripts")[0][0] == CALLS
    assert _query(external_database_url, "select count(*) from analyses")[0][0] == CALLS
    restarted = _query(
        external_database_url,
        "select count(*) from events where stage = 'transcribe' and kind = 'started'",
    )[0][0]
    assert restarted > CALLS  # the killed worker's transcription really was run again by the survivor
