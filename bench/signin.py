"""Sign-in flood benchmark: signed webhooks' latency and the server's memory during 64 bad sign-ins at once.

    python bench/signin.py [--before /tmp/cs-main-ref] [--sign-ins 64] [--webhooks 60] [--clients 4]

For each code tree (--before, if given, then this one; this one once more with the failure limits raised so
that every sign-in reaches the password check and only the hashing pool protects the server) it starts
`callsense serve` (API only) on loopback against a fresh database on --postgres, lets --sign-ins browsers
(a process of their own) post wrong passwords for made-up user names in a loop, while --webhooks signed
webhooks are posted from --clients threads. Prints webhook latency (every one must get 202), the sign-in
answers, and the peak RSS of the serve process (sampled every 20 ms).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.service import _port, _post, _wait_healthy

CALLSENSE = str(Path(sys.executable).with_name("callsense"))
ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-0123456789abcdef").decode()
RAISED = {
    "CALLSENSE_SIGN_IN__MAX_FAILURES_PER_CLIENT": "100000",
    "CALLSENSE_SIGN_IN__MAX_FAILURES_TOTAL": "100000",
}


@dataclass
class Result:
    label: str
    latencies: list[float]
    sign_ins: Counter[int]
    peak_rss: int


def _bad_sign_ins(url: str, stop: threading.Event, answers: Counter[int], lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=120) as browser:
        while not stop.is_set():
            try:
                form = browser.get("/app/sign-in").text
                token = re.search(r'name="signin_token" value="([^"]+)"', form)
                assert token is not None
                guess = f"guess-{uuid.uuid4().hex[:8]}"
                data = {"username": guess, "password": "wrong password", "signin_token": token[1]}
                status = browser.post("/app/sign-in", data=data).status_code
            except httpx.TransportError:
                status = 0
            with lock:
                answers[status] += 1


def flood(url: str, browsers: int) -> None:
    """Run in a process of its own (so that its threads do not slow the webhook client): bad sign-ins until
    stdin closes, then their answers as JSON on stdout."""
    stop, lock = threading.Event(), threading.Lock()
    answers: Counter[int] = Counter()
    threads = [
        threading.Thread(target=_bad_sign_ins, args=(url, stop, answers, lock)) for _ in range(browsers)
    ]
    for thread in threads:
        thread.start()
    sys.stdin.read()
    stop.set()
    for thread in threads:
        thread.join()
    print(json.dumps(answers))


def _peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], process.memory_info().rss)
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


def _run(label: str, source: Path, args: argparse.Namespace, extra: dict[str, str]) -> Result:
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="callsense-bench-") as data_dir:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CALLSENSE_")}
            env.update(
                PYTHONPATH=str(source),
                CALLSENSE_DATA_DIR=data_dir,
                CALLSENSE_DATABASE_URL=args.postgres.rsplit("/", 1)[0] + f"/{name}",
                CALLSENSE_WEBHOOKS__SECRETS=json.dumps([SECRET]),
                **extra,
            )
            subprocess.run(
                [CALLSENSE, "users", "create", "bench", "--role", "viewer", "--password-stdin"],
                input="a long enough password\n",
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return _measure(label, env, args)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _measure(label: str, env: dict[str, str], args: argparse.Namespace) -> Result:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [CALLSENSE, "serve", "--port", str(port), "--worker-concurrency", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done = threading.Event()
    peak = [0]
    try:
        _wait_healthy(url)
        sampler = threading.Thread(target=_peak_rss, args=(server.pid, done, peak))
        sampler.start()
        flooding = subprocess.Popen(
            [sys.executable, __file__, "--flood", url, "--sign-ins", str(args.sign_ins)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)  # let the flood reach full strength before measuring
        with httpx.Client(timeout=120) as client, ThreadPoolExecutor(args.clients) as pool:
            audio = "http://127.0.0.1:9/recording.flac"

            def send(index: int) -> float | None:
                """The latency of a 202, or None for any other answer."""
                payload = {"call_id": f"wh-{index}", "recording_url": audio}
                try:
                    return _post(client, f"{url}/webhooks/recording", payload)
                except AssertionError:
                    return None

            latencies = sorted(value for value in pool.map(send, range(args.webhooks)) if value is not None)
        answers, _ = flooding.communicate("")
        done.set()
        sampler.join()
        return Result(label, latencies, Counter({int(k): v for k, v in json.loads(answers).items()}), peak[0])
    finally:
        done.set()
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with (e.g. main)")
    parser.add_argument("--sign-ins", type=int, default=64)
    parser.add_argument("--webhooks", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--flood", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        flood(args.flood, args.sign_ins)
        return
    runs: list[tuple[str, Path, dict[str, str]]] = []
    if args.before:
        runs.append((f"before ({args.before})", args.before.resolve(), {}))
    runs += [("after, default limits", ROOT, {}), ("after, failure limits raised", ROOT, RAISED)]
    results = [_run(label, source, args, extra) for label, source, extra in runs]
    table = Table(
        title=f"{args.webhooks} signed webhooks ({args.clients} clients) "
        f"during {args.sign_ins} concurrent bad sign-ins"
    )
    for column in ("code", "202s", "p50 ms", "p95 ms", "max ms", "sign-in answers", "peak RSS MiB"):
        table.add_column(column, justify="left" if column in ("code", "sign-in answers") else "right")
    for result in results:
        ms = [value * 1000 for value in result.latencies]
        table.add_row(
            result.label,
            f"{len(ms)}/{args.webhooks}",
            f"{statistics.median(ms):.0f}",
            f"{ms[int(0.95 * (len(ms) - 1))]:.0f}",
            f"{ms[-1]:.0f}",
            ", ".join(f"{status}: {count}" for status, count in sorted(result.sign_ins.items())),
            f"{result.peak_rss / 2**20:.0f}",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
