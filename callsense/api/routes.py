"""The JSON API as one piece for the app factory: its routers, and its answers to callsense errors."""

from __future__ import annotations

import math

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from procrastinate.exceptions import ConnectorException
from sqlalchemy.exc import DataError, DBAPIError

from callsense import backoff, db
from callsense.api import calls, categories, deliveries, operations, retention, webhooks
from callsense.errors import CallsenseError, LLMUnavailableError, NotFoundError
from callsense.pipeline.retries import RETRY

log = structlog.get_logger(__name__)
# What a 503 asks the sender to wait: a database restart or a model load takes seconds to a minute, and
# webhook senders retry on their own schedule when they do not read it.
RETRY_AFTER_SECONDS = 10


def install(app: FastAPI) -> None:
    """Add the API's routes; every callsense error a route lets through is answered as JSON."""
    app.include_router(webhooks.router)
    app.include_router(calls.router)
    app.include_router(retention.router)
    app.include_router(deliveries.router)
    app.include_router(categories.router)
    app.include_router(operations.router)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"a value in the request cannot be used: {db.unstorable(exc)}"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(CallsenseError)
    async def refused(_: Request, exc: CallsenseError) -> JSONResponse:
        if exc.retryable:
            return _unavailable(
                str(exc), asked_s=exc.retry_after if isinstance(exc, LLMUnavailableError) else None
            )
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    async def database_gone(request: Request, exc: Exception) -> JSONResponse:
        """The database lost or refusing connections (restarted, failing over): nothing was answered
        that a retry would not answer again, so the sender is asked to come back rather than shown a 500."""
        if not db.unreachable(exc):
            raise exc
        log.warning(
            "database unreachable; answered 503", path=request.url.path, error=str(exc).split("\n")[0]
        )
        return _unavailable("the database is unreachable; try again later")

    app.add_exception_handler(DBAPIError, database_gone)
    app.add_exception_handler(ConnectorException, database_gone)


def _unavailable(detail: str, *, asked_s: float | None = None) -> JSONResponse:
    """503 with our ``Retry-After``, or the LLM server's when longer (a shared, rate-limited one asked to wait
    before a question), up to what the analyse stage's queue would wait."""
    seconds = backoff.honouring(asked_s, RETRY_AFTER_SECONDS, cap_s=RETRY["analyse"].cap_seconds)
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(math.ceil(seconds))},
    )
