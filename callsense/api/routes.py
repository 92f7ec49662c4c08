"""The JSON API as one piece for the app factory: its routers, and its answers to callsense errors."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from callsense import db
from callsense.api import calls, categories, deliveries, operations, retention, webhooks
from callsense.errors import CallsenseError, NotFoundError


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
        code = status.HTTP_503_SERVICE_UNAVAILABLE if exc.retryable else status.HTTP_422_UNPROCESSABLE_CONTENT
        return JSONResponse({"detail": str(exc)}, status_code=code)
