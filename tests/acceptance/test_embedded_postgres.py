"""`callsense serve` on the embedded PostgreSQL brings it back when its postmaster is killed.

A real server process with its in-process worker; the postmaster is killed with SIGKILL while its data
directory is made unreadable, so the first restarts fail and the backoff is seen on /readyz; then the
directory is given back, the server must come back by itself, and a webhook posted after that is processed.
The LLM is a loopback stub answering at once: this test is about the database, not the model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.test_service import METRICS_TOKEN, SECRET, recordings, signed  # noqa: F401
from tests.crm_calls import ANALYSIS
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env, callsense_serve

pytestmark = pytest.mark.slow


@pytest.fixture
def instant_llm() -> Iterator[str]:
    with openai_answering(json.dumps(ANALYSIS)) as url:
        yield url


def _readyz(url: str) -> tuple[int, dict[str, str]]:
    try:
        response = httpx.get(
            f"{url}/readyz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
    except httpx.TransportError as exc:
        pytest.fail(f"serve stopped answering while its database was down: {exc!r}")
    return response.status_code, dict(response.json()["checks"])


def _until(what: str, seconds: float, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = probe()
        if seen:
            return seen
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_a_killed_embedded_postgres_is_restarted_and_processing_goes_on(
    tmp_path: Path,
    instant_llm: str,
    recordings: str,  # noqa: F811  (the fixture, imported from test_service)
) -> None:
    data_dir = tmp_path / "data"
    env = callsense_env(
        data_dir,
        CALLSENSE_WEBHOOKS__SECRETS=json.dumps([SECRET]),
        CALLSENSE_FETCH__ALLOW_NETWORKS=json.dumps(["127.0.0.0/8"]),
        CALLSENSE_LLM__BACKEND="openai",
        CALLSENSE_LLM__BASE_URL=instant_llm,
        CALLSENSE_LLM__MODEL="instant",
        CALLSENSE_LOG_JSON="true",
        CALLSENSE_METRICS__TOKEN=METRICS_TOKEN,
    )
    admin = subprocess.run(
        [CALLSENSE, "tokens", "create", "admin", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pgdata = data_dir / "postgres"
    log = tmp_path / "serve.log"
    with callsense_serve(env, log) as url:
        healthy = _readyz(url)
        assert healthy[1]["embedded_postgres"] == "ok" and healthy[1]["database"] == "ok"

        mode = pgdata.stat().st_mode
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
        pgdata.chmod(0)  # every restart fails until the directory is given back
        try:
            os.kill(postmaster, signal.SIGKILL)
            # Seen on /readyz: not ready, restarting, and trying again after a failed start.
            status, checks = _until(
                "a third restart attempt on /readyz",
                60,
                lambda: (
                    (reply := _readyz(url))[1].get("embedded_postgres", "").startswith("restarting (attempt ")
                    and int(reply[1]["embedded_postgres"].split()[-1].rstrip(")")) >= 3
                    and reply
                ),
            )
            assert status == 503 and checks["database"].startswith("unavailable")
        finally:
            pgdata.chmod(mode)

        _until("the embedded PostgreSQL to be back", 90, lambda: _readyz(url) == healthy)
        restarted = (pgdata / "postmaster.pid").read_text().split()[0]
        assert int(restarted) != postmaster

        body, headers = signed(
            {"call_id": "after-restart", "recording_url": f"{recordings}/en_short.mono.flac"}
        )
        assert httpx.post(f"{url}/webhooks/recording", content=body, headers=headers).status_code == 202
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
            call = _until(
                "the call posted after the restart to be processed",
                240,
                lambda: (
                    (reply := client.get("/calls/after-restart")).status_code == 200
                    and reply.json()["status"] in {"done", "failed"}
                    and reply.json()
                ),
            )
        assert call["status"] == "done", call

    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    said = [entry["event"] for entry in events]
    assert "embedded PostgreSQL is down; restarting it" in said
    assert "embedded PostgreSQL did not start" in said
    assert "embedded PostgreSQL restarted" in said
    # Stopped with SIGTERM, serve still stopped the server it had brought back.
    assert not (pgdata / "postmaster.pid").exists()
