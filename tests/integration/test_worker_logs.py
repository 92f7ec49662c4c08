"""``callsense worker`` as systemd runs it: JSON log lines for a shipper, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from callsense.config import Settings
from callsense.db import open_database
from callsense.pipeline.queue_figures import count_workers
from tests.crm_calls import cli, cli_env
from tests.recording_trees import put, tiny_wav
from tests.servers import CALLSENSE


def test_every_line_a_worker_logs_with_log_json_is_json_and_sigterm_stops_it(settings: Settings) -> None:
    assert cli(settings, "db", "upgrade").returncode == 0
    env = cli_env(settings) | {"CALLSENSE_LOG_JSON": "true", "CALLSENSE_LOG_LEVEL": "INFO"}
    worker = subprocess.Popen(
        [CALLSENSE, "worker", "--queue", "deliver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = open_database(settings)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # registered with the queue: its signal handlers are in place
            with db.transaction() as session:
                if count_workers(session=session):
                    break
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
        db.close()
    assert worker.returncode == 0, stderr
    # The libraries' records (alembic's, procrastinate's) used to be plain text among the JSON lines.
    entries = [json.loads(line) for line in stderr.splitlines()]
    assert {entry.get("logger") for entry in entries} >= {"alembic.runtime.migration"}
    # said when the signal comes: a running job may take minutes to finish, and the worker looked hung
    assert {"signal": "SIGTERM", "event": "stopping: the running jobs finish first"}.items() <= next(
        entry for entry in entries if entry.get("signal")
    ).items()


def test_taking_a_file_logs_its_call_not_its_name(settings: Settings, tmp_path: Path) -> None:
    # A recorder's file name may hold the caller's number and the agent's name (docs/sources.md).
    assert cli(settings, "db", "upgrade").returncode == 0
    share = tmp_path / "share"
    put(share, "sales/in_alice_+4930123_c-77.wav", tiny_wav())
    folders = [{"name": "nas", "path": str(share), "stable_seconds": 0}]
    env = cli_env(settings) | {
        "CALLSENSE_LOG_JSON": "true",
        "CALLSENSE_LOG_LEVEL": "INFO",
        "CALLSENSE_SOURCES__FOLDERS": json.dumps(folders),
    }
    polled = subprocess.run(
        [CALLSENSE, "sources", "poll", "nas"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert polled.returncode == 0, polled.stderr
    entries = [json.loads(line) for line in polled.stderr.splitlines() if line]
    (taken,) = [entry for entry in entries if entry["event"] == "recording taken"]
    assert taken["source"] == "nas" and taken["call_pk"]
    assert "4930123" not in polled.stderr and "alice" not in polled.stderr
