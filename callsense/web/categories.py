"""The Categories page (admins): the categories in force, a form to add, change or delete the dashboard's
own, and the progress of re-evaluating stored calls after a change. Those of the settings file are shown
read-only: they change with the file."""

from __future__ import annotations

import json
import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from callsense.calls import categories
from callsense.calls import service as calls
from callsense.calls.categorise import describe
from callsense.config.categories import CategoryError
from callsense.errors import NotFoundError
from callsense.pipeline import categorise, tasks
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep
from callsense.web.accounts import SignedIn
from callsense.web.site import PREFIX, CsrfCheckedDep, WebRefusal, needs, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AdminDep = Annotated[SignedIn, needs(Role.admin)]
RULE_MAX_CHARS = 20_000


def parse_rule(text: str) -> Any:
    """The rule field: JSON, or TOML as in the settings file (``not = { said = ["..."] }``)."""
    text = text.strip()
    if not text:
        raise CategoryError("the rule is empty")
    try:
        return json.loads(text) if text.startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if text.startswith("{") else "TOML"
        raise CategoryError(f"the rule is not valid {kind}: {exc}") from None


def _context(rt: Runtime, user: SignedIn, **form: Any) -> dict[str, Any]:
    with rt.db.transaction() as session:
        found = categories.defined(session=session, configured=rt.settings.categories)
        counts = categories.counts(session=session)
        done = categories.progress(
            session=session, current=categories.revision([item.category for item in found])
        )
    rows = [
        {
            "name": item.category.name,
            "description": item.category.description,
            "source": item.source,
            "rule": describe(item.category.rule),
            "rule_json": json.dumps(item.category.stored_rule(), indent=2, ensure_ascii=False),
            "calls": counts.get(item.category.name, 0),
            "updated": item.updated_at.strftime("%Y-%m-%d %H:%M") if item.updated_at else None,
            "updated_by": item.updated_by,
        }
        for item in found
    ]
    return {"user": user, "categories": rows, "progress": done, "form": form}


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
    return page(request, "_category_progress.html", {"progress": categorise.progress(rt)})


async def _reevaluate(rt: Runtime, jobs_app: JobsDep) -> None:
    """Queue the jobs that bring every stored call up to the categories now in force."""
    for first, last in await run_in_threadpool(categorise.stale_ranges, rt):
        await tasks.defer_categorise_async(jobs_app, first, last)


def _save(rt: Runtime, user: SignedIn, name: str, description: str, rule: str) -> None:
    raw = {"name": name, "description": description, "rule": parse_rule(rule)}
    with rt.db.transaction() as session:
        saved = categories.save(
            session=session,
            raw=raw,
            configured=rt.settings.categories,
            topics={topic.label for topic in rt.settings.analysis.topics},
            actor=user.actor,
        )
        calls.add_event(
            session=session,
            call_pk=None,
            stage="categories",
            kind="saved",
            detail=saved.name,
            actor=user.actor,
        )


@router.post("/categories")
async def save_category(
    request: Request,
    rt: RuntimeDep,
    jobs_app: JobsDep,
    user: CsrfCheckedDep,
    name: Annotated[str, Form(max_length=200)],
    rule: Annotated[str, Form(max_length=RULE_MAX_CHARS)],
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Changing categories needs the admin role.")
    try:
        await run_in_threadpool(_save, rt, user, name, description, rule)
    except CategoryError as exc:
        context = await run_in_threadpool(_context, rt, user, name=name, description=description, rule=rule)
        context["error"] = str(exc)
        return page(request, "categories.html", context, status.HTTP_422_UNPROCESSABLE_CONTENT)
    await _reevaluate(rt, jobs_app)
    return RedirectResponse(f"{PREFIX}/categories", status_code=status.HTTP_303_SEE_OTHER)


def _delete(rt: Runtime, user: SignedIn, name: str) -> None:
    with rt.db.transaction() as session:
        categories.remove(session=session, name=name)
        calls.add_event(
            session=session, call_pk=None, stage="categories", kind="deleted", detail=name, actor=user.actor
        )


@router.post("/categories/{name}/delete")
async def delete_category(name: str, rt: RuntimeDep, jobs_app: JobsDep, user: CsrfCheckedDep) -> Response:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Changing categories needs the admin role.")
    try:
        await run_in_threadpool(_delete, rt, user, name)
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no dashboard category “{name}”.") from None
    await _reevaluate(rt, jobs_app)
    return RedirectResponse(f"{PREFIX}/categories", status_code=status.HTTP_303_SEE_OTHER)
