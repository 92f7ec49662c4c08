"""The one app factory: the JSON API and the dashboard side by side, and (optionally) a worker in-process.

``api`` and ``web`` are peers that never import each other; this module is the only one that knows both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
from fastapi import FastAPI

from callsense import __version__
from callsense.api import routes as api
from callsense.pipeline import tasks, workers
from callsense.runtime import Runtime
from callsense.web import dashboard


def create_app(rt: Runtime, jobs_app: procrastinate.App, *, worker_concurrency: int = 0) -> FastAPI:
    """The service; with ``worker_concurrency`` > 0 a Procrastinate worker runs in the same event loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with jobs_app.open_async():
            worker: asyncio.Task[Any] | None = None
            if worker_concurrency > 0:
                options = tasks.worker_options(rt, queues=None, concurrency=worker_concurrency)
                worker = asyncio.create_task(workers.run_worker_supervised(jobs_app, options))
            try:
                yield
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker

    app = _application(lifespan)
    app.state.runtime = rt  # read by callsense.serving's dependencies, on both sides
    app.state.jobs = jobs_app
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, without starting anything (exported to docs/openapi.json)."""
    return _application(None).openapi()


def _application(lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="callsense",
        version=__version__,
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
    return app
