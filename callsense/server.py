"""The one app factory: the JSON API and the dashboard side by side, and (optionally) a worker in-process.

``api`` and ``web`` are peers that never import each other; this module is the only one that knows both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callsense import __version__, logs
from callsense.api import routes as api
from callsense.errors import UnexpectedError
from callsense.pipeline import tasks, workers
from callsense.runtime import Runtime
from callsense.version import RELEASE
from callsense.web import dashboard

log = structlog.get_logger(__name__)
# No form or JSON body of the API or the dashboard comes near this (a category's rule, the largest, is 20 000
# characters); the webhooks read theirs themselves, no further than their own 256 KiB.
MAX_BODY_BYTES = 1024 * 1024
OWN_LIMIT = ("/webhooks/",)


def create_app(rt: Runtime, jobs_app: procrastinate.App, *, worker_concurrency: int = 0) -> FastAPI:
    """The service; with ``worker_concurrency`` > 0 a Procrastinate worker runs in the same event loop.
    Without one, the process still sends the queue a worker's heartbeat: ``db upgrade`` waits for it too."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with jobs_app.open_async():
            if worker_concurrency > 0:
                options = tasks.worker_options(rt, queues=None, concurrency=worker_concurrency)
                background = asyncio.create_task(workers.run_worker_supervised(jobs_app, options))
            else:
                background = asyncio.create_task(workers.announce_presence(jobs_app))
            try:
                yield
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background

    app = _application(lifespan, version=__version__)
    app.state.runtime = rt  # read by callsense.serving's dependencies, on both sides
    app.state.jobs = jobs_app
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, without starting anything (exported to docs/openapi.json: the release, not the
    commit, names its version, or every commit would change the file)."""
    return _application(None, version=RELEASE).openapi()


def _application(lifespan: Any, *, version: str) -> FastAPI:
    app = FastAPI(
        title="callsense",
        version=version,
        description="Self-hosted call analytics: webhooks in, analysed calls out. Authenticate with an API "
        "token (`Authorization: Bearer ...`, from `callsense tokens create`); webhooks use signatures.",
        lifespan=lifespan,
        # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, outside the dashboard's CSP.
        # The document itself stays at /openapi.json (and in docs/openapi.json) for any OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
    )
    api.install(app)  # webhooks, calls, deliveries, health and metrics; errors as JSON
    dashboard.install(app)  # the /app pages and their static files; refusals as pages
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, exempt=OWN_LIMIT)
    app.add_middleware(TransportHeaders)
    return app


class UnexpectedErrors:
    """An exception no handler answered (a route's bug, a response that fails its model) is logged by its
    type and frames without its message, as a stage's is (``logs.unexpected``), and answered with a bare
    500. Let through, Starlette re-raises it for uvicorn to log whole, and a library's message may quote
    what it was handed: pydantic's ``input_value`` is the record a response model refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as raised:
            where = {"method": scope["method"], "path": scope["path"]}  # the query string may hold a search
            logs.unexpected(raised, UnexpectedError, log, "request stopped on an unexpected error", **where)
            if not started:  # else the client sees the answer cut short
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)


class TransportHeaders:
    """On every answer, the API's JSON and audio as the dashboard's pages: ``nosniff`` (a browser never
    takes a transcript for a page), and, over HTTPS, HSTS (this host only: a browser that came once over
    HTTPS never sends a session cookie or a token in clear to it again)."""

    HSTS = (b"strict-transport-security", b"max-age=31536000")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [(b"x-content-type-options", b"nosniff")]
        if scope.get("scheme") == "https":
            added.append(self.HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in added if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses (413) a request body over ``limit`` bytes, as declared or as it arrives. FastAPI reads a
    route's whole form or JSON body before the dependencies that check the token or the session run, so
    without this one unauthenticated request could take gigabytes of memory. Paths starting with one of
    ``exempt`` read their body themselves."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: tuple[str, ...]) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = refused = False

        async def limited() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received <= self.limit:
                return message
            # Answered here: the route sees a sender gone away, and what it answers to that is dropped.
            refused = True
            if not started:
                await self._refuse(scope, receive, send)
            return {"type": "http.disconnect"}

        async def watched(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited, watched)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is over {self.limit // 1024} KiB"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
