"""What the log configuration lets through from the libraries, in a process of its own (the test runner's
handlers would otherwise take the records)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REQUEST = (
    "import sys, httpx; from callsense import logs; "
    "logs.configure(level=sys.argv[1], json_lines=False); httpx.get(sys.argv[2]).raise_for_status()"
)


class _NoContent(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # not on the test's stderr
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoContent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tokenize"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_httpx_never_logs_the_urls_it_requests(url: str, level: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", REQUEST, level, url], capture_output=True, text=True, timeout=60, check=True
    )
    assert "/tokenize" not in done.stderr, done.stderr
