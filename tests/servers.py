"""Start the real `callsense` server for acceptance tests: a subprocess on a free loopback port; or an app
served by uvicorn in a thread of the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

CALLSENSE = str(Path(sys.executable).with_name("callsense"))


def callsense_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This machine's environment minus any CALLSENSE_ setting of its own, for a data directory of the test's
    and the bundled models, plus ``settings`` (CALLSENSE_... = value)."""
    from tests.conftest import MODEL_DIR

    env = {name: value for name, value in os.environ.items() if not name.startswith("CALLSENSE_")}
    env.update(CALLSENSE_DATA_DIR=str(data_dir), CALLSENSE_MODEL_DIR=str(MODEL_DIR), **settings)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def callsense_serve(env: dict[str, str], log_path: Path, *options: str) -> Iterator[str]:
    """Run `callsense serve` until the block ends; yields its base URL once /healthz answers."""
    port = free_port()
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [CALLSENSE, "serve", "--port", str(port), *options], env=env, stdout=log_file, stderr=log_file
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("callsense serve did not start: " + log_path.read_text()[-3000:])
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def trickling(seconds: float) -> Iterator[str]:
    """Yield the URL of a loopback server that answers any POST 200 with a JSON body of blanks it sends one
    byte every 0.1 s, for ``seconds``: no read ever waits long, the whole answer does."""
    import contextlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    size = round(seconds * 10)

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client hung up: that is the point
                for _ in range(size):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def uvicorn_serving(app: ASGIApp, forwarded_allow_ips: str = "127.0.0.1") -> Iterator[str]:
    """The app on a real loopback socket, configured as `callsense serve` configures uvicorn."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn did not start")
            thread.join(0.05)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)
