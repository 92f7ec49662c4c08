"""Request bodies over the limit, against a real `callsense serve`: refused before they are read, whoever
sends them, since FastAPI reads a route's body before it checks the token or the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx

from callsense.server import MAX_BODY_BYTES
from tests.servers import callsense_env, callsense_serve

OVER = MAX_BODY_BYTES + 1


def _chunks() -> Iterator[bytes]:
    """A form without a declared length (chunked), over the limit."""
    yield b"username=maria&password="
    for _ in range(OVER // 65536 + 1):
        yield b"a" * 65536


def test_bodies_over_the_limit_are_refused_before_anything_reads_them(
    tmp_path: Path, database_url: str
) -> None:
    env = callsense_env(tmp_path / "data", CALLSENSE_DATABASE_URL=database_url)
    with callsense_serve(env, tmp_path / "serve.log", "--worker-concurrency", "0") as url:
        question = b'{"question": "' + b"a" * OVER + b'"}'
        declared = httpx.post(
            f"{url}/calls/x/ask", content=question, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413 and "over 1024 KiB" in declared.json()["detail"]
        streamed = httpx.post(
            f"{url}/app/sign-in",
            content=_chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert streamed.status_code == 413
        # Under the limit, the route answers as before; the webhooks keep their own, smaller limit.
        assert httpx.post(f"{url}/calls/x/ask", json={"question": "refund?"}).status_code == 401
        webhook = httpx.post(f"{url}/webhooks/recording", content=b"{" + b" " * OVER + b"}")
        assert webhook.status_code == 413 and webhook.json()["error"] == "too_large"
