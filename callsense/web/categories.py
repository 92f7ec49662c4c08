"""The Categories page (admins): the categories in force, a form to add, change or delete the dashboard's
own, and the progress of re-evaluating stored calls after a change. Those of the settings file are shown
read-only: they change with the file."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from callsense import serving
from callsense.calls import categories
from callsense.calls.categorise import describe
from callsense.config.categories import RULE_TEXT_MAX_CHARS, CategoryError
from callsense.errors import NotFoundError
from callsense.pipeline import categorise
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep
from callsense.web.accounts import SignedIn
from callsense.web.call_view import utc
from callsense.web.site import PREFIX, CsrfCheckedDep, WebRefusal, needs, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AdminDep = Annotated[SignedIn, needs(Role.admin)]


def _context(rt: Runtime, user: SignedIn, **form: Any) -> dict[str, Any]:
    with rt.db.transaction() as session:
        found = categories.overview(session=session, configured=rt.settings.categories)
    rows = [
        {
            "name": item.category.name,
            "description": item.category.description,
            "source": item.source,
            "rule": describe(item.category.rule),
            "rule_json": json.dumps(item.category.stored_rule(), indent=2, ensure_ascii=False),
            "calls": found.counts.get(item.category.name, 0),
            "updated": utc(item.updated_at, "%Y-%m-%d %H:%M UTC") if item.updated_at else None,
            "updated_by": item.updated_by,
        }
        for item in found.defined
    ]
    return {"user": user, "categories": rows, "progress": found.progress, "form": form}


@router.get("/categories")
def categories_page(
    request: Request, rt: RuntimeDep, user: AdminDep, edit: str | None = None
) -> HTMLResponse:
    context = _context(rt, user)
    chosen = next((row for row in context["categories"] if row["name"] == edit), None)
    if chosen is not None and chosen["source"] == "dashboard":
        context["form"] = {
            "name": chosen["name"],
            "description": chosen["description"],
            "rule": chosen["rule_json"],
        }
    return page(request, "categories.html", context)


@router.get("/categories/progress")
def progress_fragment(request: Request, rt: RuntimeDep, user: AdminDep) -> HTMLResponse:
    context = {"progress": categorise.progress(rt), "polled": True}
    return page(request, "_category_progress.html", context)


@router.post("/categories")
async def save_category(
    request: Request,
    rt: RuntimeDep,
    jobs_app: JobsDep,
    user: CsrfCheckedDep,
    name: Annotated[str, Form(max_length=200)],
    rule: Annotated[str, Form(max_length=RULE_TEXT_MAX_CHARS)],
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Changing categories needs the admin role.")
    try:
        await serving.save_category(
            rt, jobs_app, name=name, description=description, rule=rule, actor=user.actor
        )
    except CategoryError as exc:
        context = await run_in_threadpool(_context, rt, user, name=name, description=description, rule=rule)
        context["error"] = str(exc)
        return page(request, "categories.html", context, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse(f"{PREFIX}/categories", status_code=status.HTTP_303_SEE_OTHER)


# ``:path``: a name may hold a "/" ("Refund/Return"), which the row's form leaves as it is in the URL.
@router.post("/categories/{name:path}/delete")
async def delete_category(name: str, rt: RuntimeDep, jobs_app: JobsDep, user: CsrfCheckedDep) -> Response:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Changing categories needs the admin role.")
    try:
        await serving.delete_category(rt, jobs_app, name=name, actor=user.actor)
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no dashboard category “{name}”.") from None
    return RedirectResponse(f"{PREFIX}/categories", status_code=status.HTTP_303_SEE_OTHER)
