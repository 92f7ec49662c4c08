"""``callsense worker`` as systemd runs it: JSON log lines for a shipper, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx

from callsense.config import Settings
from tests.crm_calls import cli, cli_env
from tests.servers import CALLSENSE, free_port


def test_every_line_a_worker_logs_with_log_json_is_json_and_sigterm_stops_it(settings: Settings) -> None:
    assert cli(settings, "db", "upgrade").returncode == 0
    port = free_port()
    env = cli_env(settings) | {"CALLSENSE_LOG_JSON": "true", "CALLSENSE_LOG_LEVEL": "INFO"}
    worker = subprocess.Popen(
        [CALLSENSE, "worker", "--queue", "deliver", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    lines = stderr.splitlines()
    # The libraries' records (alembic's, procrastinate's) used to be plain text among the JSON lines.
    assert {json.loads(line)["logger"] for line in lines} >= {"alembic.runtime.migration"}
