"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import secrets
from typing import Any, Literal

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from callsense import metrics
from callsense.api.deps import refusal
from callsense.assets import catalog
from callsense.pipeline import categorise, queue_figures
from callsense.runtime import Runtime
from callsense.serving import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
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


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] | None = Field(
        default=None, description="each check's result ('ok' or why not): with the bearer token only"
    )


@router.get(
    "/readyz",
    responses={
        200: {"model": Readiness, "description": "ready"},
        503: {"model": Readiness, "description": "not ready: a check failed"},
    },
)
async def readyz(request: Request, rt: RuntimeDep) -> JSONResponse:
    """The database, the job queue and the configured models are usable (readiness). Anyone gets the
    status (for a load balancer's probe); which check failed, with the bearer token ``metrics.token``."""

    def check() -> dict[str, str]:
        results: dict[str, str] = {}
        try:
            with rt.db.transaction() as session:
                session.execute(text("select 1"))
                queue_figures.count_workers(session=session)  # the queue's tables are there and readable
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


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        401: refusal("no bearer token, or not the one in metrics.token"),
    },
)
async def metrics_endpoint(request: Request, rt: RuntimeDep) -> Response:
    """Prometheus metrics in the text exposition format, for the bearer token ``metrics.token``."""
    if not _scraper(request, rt):
        return JSONResponse(
            {"detail": "metrics need the bearer token set in metrics.token"},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def scrape() -> bytes:
        reevaluation = categorise.progress(rt)
        return metrics.render(
            rt.db,
            queue=queue_figures,
            blob_dir=rt.settings.resolved_blob_dir,
            categories_stale=reevaluation.total - reevaluation.done,
        )

    body = await run_in_threadpool(scrape)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
