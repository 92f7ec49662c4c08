"""The dashboard as one piece for the app factory: its pages, its static files, refusals shown as pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from callsense import serving
from callsense.web import asking, categories, pages, retention, site


def install(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to the service."""
    app.include_router(site.router)
    app.include_router(pages.router)
    app.include_router(asking.router)
    app.include_router(retention.router)
    app.include_router(categories.router)
    app.mount(f"{site.PREFIX}/static", StaticFiles(directory=site.HERE / "static"), name="web-static")

    @app.exception_handler(site.WebRefusal)
    async def refused(request: Request, exc: site.WebRefusal) -> HTMLResponse:
        user = await run_in_threadpool(site.session_user, request, serving.get_runtime(request))
        return site.page(request, "refused.html", {"user": user, "message": exc.message}, exc.status_code)
