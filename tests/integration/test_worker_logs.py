"""``callsense worker`` as systemd runs it: JSON log lines for a shipper, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
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


def test_a_download_logs_no_query_string(settings: Settings, tmp_path: Path) -> None:
    # A recording URL's query may be its credentials (a presigned URL): callsense logs it without them, and
    # so must the HTTP client underneath it.
    share = tmp_path / "recorder"
    share.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(share)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/gone.wav?X-Amz-Signature=s3cr3tsig&ani=4930123"
    env = cli_env(settings) | {"CALLSENSE_LOG_LEVEL": "INFO", "CALLSENSE_FETCH__ALLOW_HOSTS": '["127.0.0.1"]'}
    try:
        done = subprocess.run(
            [CALLSENSE, "process", url, "--call-id", "presigned"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1 and "answered 404" in done.stderr  # the download was tried
    assert "s3cr3tsig" not in done.stderr and "4930123" not in done.stderr
