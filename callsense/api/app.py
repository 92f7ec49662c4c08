"""The FastAPI application: webhooks, calls, health and metrics, and (optionally) a worker in-process."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool

from callsense import __version__, metrics
from callsense.api import calls, deliveries, webhooks
from callsense.api.deps import RuntimeDep
from callsense.assets import catalog
from callsense.errors import CallsenseError, NotFoundError
from callsense.pipeline import tasks as jobs
from callsense.pipeline import workers
from callsense.runtime import Runtime
from callsense.web import site as web

log = structlog.get_logger(__name__)


def create_app(rt: Runtime, jobs_app: procrastinate.App, *, worker_concurrency: int = 0) -> FastAPI:
    """The API; with ``worker_concurrency`` > 0 a Procrastinate worker runs in the same event loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with jobs_app.open_async():
            worker: asyncio.Task[Any] | None = None
            if worker_concurrency > 0:
                options = jobs.worker_options(rt, queues=None, concurrency=worker_concurrency)
                worker = asyncio.create_task(workers.run_worker_supervised(jobs_app, options))
            try:
                yield
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker

    app = _application(lifespan)
    app.state.runtime = rt
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
    app.include_router(webhooks.router)
    app.include_router(calls.router)
    web.install(app)  # the dashboard: /app pages and their static files
    app.include_router(deliveries.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["operations"])
    app.add_api_route(
        "/metrics", metrics_endpoint, methods=["GET"], tags=["operations"], response_class=Response
    )

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A value PostgreSQL cannot hold (a NUL character, a date out of its range) is the caller's error.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return JSONResponse(
            {"detail": f"a value in the request cannot be used: {reason}"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(CallsenseError)
    async def refused(_: Request, exc: CallsenseError) -> JSONResponse:
        code = status.HTTP_503_SERVICE_UNAVAILABLE if exc.retryable else status.HTTP_422_UNPROCESSABLE_CONTENT
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return app


async def healthz() -> dict[str, str]:
    """The process is up (liveness)."""
    return {"status": "ok"}


def _scraper(request: Request, rt: Runtime) -> bool:
    """Whether the request carries ``metrics.token`` as its bearer token (compared in constant time)."""
    expected = rt.settings.metrics.token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return (
        expected is not None
        and scheme.lower() == "bearer"
        and secrets.compare_digest(given.strip().encode(), expected.get_secret_value().encode())
    )


async def readyz(request: Request, rt: RuntimeDep) -> JSONResponse:
    """The database, the job queue and the configured models are usable (readiness). Anyone gets the
    status (for a load balancer's probe); which check failed, with the bearer token ``metrics.token``."""

    def check() -> dict[str, str]:
        results: dict[str, str] = {}
        try:
            with rt.db.transaction() as session:
                session.execute(text("select 1"))
                jobs.count_workers(session=session)  # the queue's tables are there and readable
            results["database"] = results["queue"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            results["database"] = f"unavailable: {type(exc).__name__}"
        if rt.db.embedded is not None:  # "restarting (attempt N)" while serve brings it back
            results["embedded_postgres"] = rt.db.embedded.state
        for label, name in (("asr_model", rt.settings.asr.model), ("llm_model", rt.settings.llm.model)):
            if name in catalog.CATALOG:
                results[label] = "ok" if catalog.installed(catalog.lookup(name)) else "packages missing"
        return results

    results = await run_in_threadpool(check)
    ready = all(value == "ok" for value in results.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
    if _scraper(request, rt):
        body["checks"] = results
    return JSONResponse(
        body, status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    )


async def metrics_endpoint(request: Request, rt: RuntimeDep) -> Response:
    """Prometheus metrics in the text exposition format, for the bearer token ``metrics.token``."""
    if not _scraper(request, rt):
        return JSONResponse(
            {"detail": "metrics need the bearer token set in metrics.token"},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = await run_in_threadpool(metrics.render, rt.db, job_counts=jobs.job_counts)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
