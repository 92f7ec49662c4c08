"""The dashboard as one piece for the app factory: its pages, its static files, refusals, unknown addresses
and forms with unknown fields shown as pages."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from callsense import serving
from callsense.web import asking, categories, pages, retention, site


def install(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to the service."""
    for router in (site.router, pages.router, asking.router, retention.router, categories.router):
        app.include_router(router, dependencies=[Depends(site.known_form_fields)])
    app.mount(f"{site.PREFIX}/static", StaticFiles(directory=site.HERE / "static"), name="web-static")

    @app.exception_handler(site.WebRefusal)
    async def refused(request: Request, exc: site.WebRefusal) -> HTMLResponse:
        user = await run_in_threadpool(site.session_user, request, serving.get_runtime(request))
        return site.page(request, "refused.html", {"user": user, "message": exc.message}, exc.status_code)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> Response:
        """A mistyped dashboard address gets a page (with its language, title and way back), not JSON."""
        if not request.url.path.startswith(site.PREFIX + "/"):
            return await http_exception_handler(request, exc)
        return await refused(request, site.WebRefusal(404, "There is no page at this address."))

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> Response:
        """A dashboard form that does not validate gets a page naming the fields and the rules they broke,
        never FastAPI's JSON, which quotes back what was typed: a password over the length limit included."""
        if not request.url.path.startswith(site.PREFIX + "/"):
            return await request_validation_exception_handler(request, exc)
        fields = "; ".join(
            f"{error['loc'][-1]}: {error['msg']}" for error in exc.errors() if error.get("loc")
        )
        return await refused(request, site.WebRefusal(422, f"This form could not be used ({fields})."))
