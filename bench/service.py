"""Service benchmark: webhook intake rate and latency, then end-to-end calls per hour with 1 and 2 workers.

    python bench/service.py [--webhooks 500] [--clients 8] [--calls 6] [--audio FILE]

Starts `callsense serve` (API only) on a throw-away embedded PostgreSQL, a recording server on loopback,
and fires signed webhooks from several client threads while the queue fills (no worker runs during that
phase). Then, for 1 and 2 `callsense worker` processes, it queues --calls recordings and measures the time
until all are done. Prints both tables.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from callsense.security.signatures import sign_standard_webhook

CALLSENSE = str(Path(sys.executable).with_name("callsense"))
SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-0123456789abcdef").decode()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post(client: httpx.Client, url: str, payload: dict[str, Any]) -> float:
    body = json.dumps(payload).encode()
    webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(
            secret=SECRET, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
        "content-type": "application/json",
    }
    started = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.text
    return elapsed


def _wait_healthy(url: str) -> None:
    for _ in range(240):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
    raise SystemExit("callsense serve did not start")


def _done(url: str, token: str, prefix: str) -> int:
    page = httpx.get(
        f"{url}/calls", params={"status": "done", "limit": 200}, headers={"Authorization": f"Bearer {token}"}
    )
    return sum(item["call_id"].startswith(prefix) for item in page.json()["items"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhooks", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--audio", type=Path, default=Path("tests/fixtures/audio/en_refund.stereo.flac"))
    parser.add_argument("--model-dir", type=Path, default=Path(".cache/models"))
    args = parser.parse_args()
    console = Console(width=140)

    recordings = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Quiet, directory=str(args.audio.parent.resolve()))
    )
    threading.Thread(target=recordings.serve_forever, daemon=True).start()
    audio_url = f"http://127.0.0.1:{recordings.server_address[1]}/{args.audio.name}"

    with tempfile.TemporaryDirectory(prefix="callsense-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLSENSE_")}
        env.update(
            CALLSENSE_DATA_DIR=data_dir,
            CALLSENSE_MODEL_DIR=str(args.model_dir.resolve()),
            CALLSENSE_WEBHOOKS__SECRETS=json.dumps([SECRET]),
            CALLSENSE_FETCH__ALLOW_NETWORKS=json.dumps(["127.0.0.0/8"]),
        )
        token = subprocess.run(
            [CALLSENSE, "tokens", "create", "bench", "--role", "admin"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = _port()
        url = f"http://127.0.0.1:{port}"
        api = subprocess.Popen(
            [CALLSENSE, "serve", "--port", str(port), "--worker-concurrency", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers: list[subprocess.Popen[bytes]] = []
        try:
            _wait_healthy(url)
            with httpx.Client(timeout=30) as client:
                for i in range(20):  # warm up connections and code paths
                    _post(
                        client,
                        f"{url}/webhooks/recording",
                        {"call_id": f"warm-{i}", "recording_url": audio_url},
                    )

                def send(index: int) -> float:
                    payload = {"call_id": f"intake-{index}", "recording_url": audio_url}
                    return _post(client, f"{url}/webhooks/recording", payload)

                started = time.perf_counter()
                with ThreadPoolExecutor(args.clients) as pool:
                    latencies = sorted(pool.map(send, range(args.webhooks)))
                wall = time.perf_counter() - started
            title = f"webhook intake: {args.webhooks} signed webhooks, {args.clients} clients, queue filling"
            intake = Table(title=title)
            for column in ("accepted/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
                intake.add_column(column, justify="right")
            intake.add_row(
                f"{args.webhooks / wall:.0f}",
                f"{statistics.median(latencies) * 1000:.1f}",
                f"{latencies[int(len(latencies) * 0.9)] * 1000:.1f}",
                f"{latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000:.1f}",
                f"{latencies[-1] * 1000:.1f}",
            )
            console.print(intake)

            # Drop the intake backlog so the throughput runs measure only their own calls.
            subprocess.run(
                [sys.executable, "-c", _PURGE], env={**env, "BENCH_DATA_DIR": data_dir}, check=True
            )
            throughput = Table(title=f"end to end: {args.calls} calls of {args.audio.name}")
            for column in ("workers", "seconds", "calls/hour"):
                throughput.add_column(column, justify="right")
            for count in (1, 2):
                prefix = f"e2e{count}-"
                with httpx.Client(timeout=30) as client:
                    for index in range(args.calls):
                        _post(
                            client,
                            f"{url}/webhooks/recording",
                            {"call_id": f"{prefix}{index}", "recording_url": audio_url},
                        )
                started = time.perf_counter()
                workers = [
                    subprocess.Popen(
                        [CALLSENSE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    for _ in range(count)
                ]
                while _done(url, token, prefix) < args.calls:
                    time.sleep(1)
                seconds = time.perf_counter() - started
                for worker in workers:
                    worker.terminate()
                    worker.wait()
                throughput.add_row(str(count), f"{seconds:.0f}", f"{args.calls * 3600 / seconds:.0f}")
            console.print(throughput)
        finally:
            for process in [api, *workers]:
                if process.poll() is None:
                    process.terminate()
                    process.wait()
            recordings.shutdown()


# Deletes the queued intake jobs and their calls (run in a child so this script needs no database code).
_PURGE = """
import os
from pathlib import Path
from sqlalchemy import text
from callsense.config import load_settings
from callsense.db import open_database
db = open_database(load_settings(data_dir=Path(os.environ["BENCH_DATA_DIR"])))
with db.transaction() as session:
    session.execute(text("delete from procrastinate_jobs"))
    session.execute(text("delete from calls where call_id like 'intake-%' or call_id like 'warm-%'"))
db.close()
"""

if __name__ == "__main__":
    main()
