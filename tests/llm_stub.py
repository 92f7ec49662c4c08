"""A loopback OpenAI-compatible server whose model always answers the same content."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def openai_answering(content: str) -> Iterator[str]:
    """Yield the base URL (…/v1) of a server answering every chat completion with ``content``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _served(Handler) as base:
        yield f"{base}/v1"


@contextmanager
def listing(path: str, answer: dict[str, Any]) -> Iterator[str]:
    """Yield the base URL of a server answering GET ``path`` with ``answer`` as JSON, any other path 404:
    an LLM server's list of its models (Ollama's /api/tags, an OpenAI-compatible server's /v1/models)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer if self.path == path else {"error": "not found"}).encode()
            self.send_response(200 if self.path == path else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _served(Handler) as base:
        yield base


@contextmanager
def _served(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Yield the base URL of a loopback server of ``handler``, shut down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
