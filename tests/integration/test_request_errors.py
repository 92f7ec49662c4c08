"""An unexpected error in a request, served by uvicorn as `callsense serve` serves it: the client gets a bare
500, the log its type and frames, and no one the message, which may quote the call."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel

from callsense import logs
from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import open_runtime
from callsense.server import create_app
from tests.servers import uvicorn_serving

CARD = "4111 1111 1111 1111"


class Record(BaseModel):
    turns: list[str]


def test_an_unexpected_error_in_a_request_is_logged_without_its_message(
    settings: Settings, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = open_runtime(settings)
    app = create_app(rt, tasks.build_app(rt))

    @app.get("/api/v1/failing")
    def failing() -> None:  # a route's bug, in a library's words
        raise ValueError(f"input_value='my card is {CARD}'")

    @app.get("/api/v1/unmodelled", response_model=Record)
    def unmodelled() -> object:  # a record its response model refuses: pydantic quotes it
        return {"turns": f"my card is {CARD}"}

    logs.configure(level="INFO", json_lines=True)
    try:
        with uvicorn_serving(app) as url:
            for path in ("/api/v1/failing", "/api/v1/unmodelled"):
                answer = httpx.get(url + path, timeout=30)
                assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    finally:
        logs.configure(level="INFO", json_lines=False)
        rt.db.close()
    logged = caplog.text + "".join(capsys.readouterr())
    assert "unexpected ValueError" in logged and "unexpected ResponseValidationError" in logged
    assert "in failing" in logged  # the frames it stopped in
    assert CARD not in logged
