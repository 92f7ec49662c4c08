"""Call categories for admins (docs/analytics.md, Categories): those in force, a dashboard category created,
replaced or deleted, and how far the re-evaluation of stored calls got. A change takes the dashboard's path
(``serving.save_category``, ``serving.delete_category``): audited, and the stored calls re-evaluated by the
``categories`` queue. Its progress is at ``/categories/-/reevaluation``, outside the categories' names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from callsense import serving
from callsense.api.deps import (
    BEHIND_A_TOKEN,
    INVALID,
    JSON_BODY,
    JSON_ONLY,
    Principal,
    RequestBody,
    refusal,
    refused_below,
    require,
    unprocessable,
)
from callsense.calls import categories
from callsense.calls.categorise import describe
from callsense.config.categories import RULE_TEXT_MAX_CHARS, CategoryError
from callsense.errors import NotFoundError
from callsense.pipeline import categorise
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep

router = APIRouter(
    prefix="/categories",
    tags=["categories"],
    responses={**BEHIND_A_TOKEN, **refused_below(Role.admin)},
)
AdminDep = Annotated[Principal, require(Role.admin)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: refusal("no category of that name")}
REFUSED = unprocessable(
    "the category is refused: the detail names it and says what is wrong (a body that is not a category at "
    "all: the usual validation errors)"
)


class CategoryView(BaseModel):
    name: str = Field(description="shown, filtered (GET /calls?category=) and counted")
    description: str = Field(description="what the category is for; matches nothing")
    defined_in: Literal["settings", "dashboard"] = Field(
        description="settings: read-only here, it changes with the settings file"
    )
    rule: dict[str, Any] = Field(description="the rule, with the keys of the settings file")
    in_words: str = Field(description="the rule in words, as the dashboard shows it")
    calls: int = Field(description="stored calls in the category")
    updated_at: datetime | None = Field(description="a dashboard category's last change")
    updated_by: str | None = Field(description="who last changed a dashboard category")


class Reevaluation(BaseModel):
    done: int = Field(description="analysed calls evaluated with the categories in force")
    total: int = Field(description="analysed calls")
    finished: bool = Field(description="every analysed call is evaluated with the categories in force")


class CategoryList(BaseModel):
    items: list[CategoryView] = Field(description="every category in force, the settings file's first")
    reevaluation: Reevaluation = Field(description="how far re-evaluating stored calls got")


class CategoryChange(RequestBody):
    description: str = Field(default="", max_length=300, description="what the category is for")
    rule: dict[str, Any] | Annotated[str, Field(max_length=RULE_TEXT_MAX_CHARS)] = Field(
        description="the rule language of the settings file (docs/analytics.md): an object with its keys, "
        'e.g. {"said": ["full refund"], "speaker": "agent"}, or the same as TOML or JSON text'
    )


def _listing(rt: Runtime) -> CategoryList:
    with rt.db.transaction() as session:
        found = categories.overview(session=session, configured=rt.settings.categories)
    items = [
        CategoryView(
            name=item.category.name,
            description=item.category.description,
            defined_in=item.source,
            rule=item.category.stored_rule(),
            in_words=describe(item.category.rule),
            calls=found.counts.get(item.category.name, 0),
            updated_at=item.updated_at,
            updated_by=item.updated_by,
        )
        for item in found.defined
    ]
    done = found.progress
    return CategoryList(
        items=items, reevaluation=Reevaluation(done=done.done, total=done.total, finished=done.finished)
    )


async def _one(rt: Runtime, name: str) -> CategoryView:
    listed = await run_in_threadpool(_listing, rt)
    # Stripped, as a PUT's name is (Category strips it): what "PUT /categories/Refund%20" made is found there.
    found = next((item for item in listed.items if item.name.lower() == name.strip().lower()), None)
    if found is None:
        raise NotFoundError(f"no category named '{name}'")
    return found


@router.get("", response_model=CategoryList)
def list_categories(rt: RuntimeDep, _: AdminDep) -> CategoryList:
    """Every category in force (the settings file's first), the calls in each, and the re-evaluation's
    progress."""
    return _listing(rt)


# "-" begins no category name (config/categories.py): a path under it is never a category's. The progress was
# at /categories/reevaluation, where it hid a category of that name; its operationId is still that path's, so
# generated clients keep their method's name.
@router.get(
    "/-/reevaluation", response_model=Reevaluation, operation_id="reevaluation_categories_reevaluation_get"
)
def reevaluation(rt: RuntimeDep, _: AdminDep) -> Reevaluation:
    """How many analysed calls are evaluated with the categories in force: after a change, the
    ``categories`` queue's workers bring ``done`` up to ``total``."""
    done = categorise.progress(rt)
    return Reevaluation(done=done.done, total=done.total, finished=done.finished)


FORMER_PROGRESS_PATH = "reevaluation"


@router.get(
    "/{name:path}",
    response_model=CategoryView,
    responses={
        **NOT_FOUND,
        **INVALID,
        status.HTTP_307_TEMPORARY_REDIRECT: {
            "description": "GET /categories/reevaluation while no category has that name: to the "
            "re-evaluation's progress, GET /categories/-/reevaluation (its former path, for older clients)"
        },
    },
)
async def get_category(name: str, request: Request, rt: RuntimeDep, _: AdminDep) -> CategoryView | Response:
    """One category in force, by its name in any case (names are unique ignoring it)."""
    try:
        return await _one(rt, name)
    except NotFoundError:
        if name != FORMER_PROGRESS_PATH:
            raise
    return RedirectResponse(request.url_for("reevaluation"), status.HTTP_307_TEMPORARY_REDIRECT)


@router.put(
    "/{name:path}",
    response_model=CategoryView,
    dependencies=[JSON_BODY],
    responses={
        **REFUSED,
        **JSON_ONLY,
        status.HTTP_201_CREATED: {"model": CategoryView, "description": "created (200: replaced)"},
    },
)
async def put_category(
    name: str,
    body: CategoryChange,
    rt: RuntimeDep,
    jobs_app: JobsDep,
    principal: AdminDep,
    response: Response,
) -> CategoryView:
    """Create (201) or replace (200) a dashboard category, as the dashboard's Categories page does: audited,
    and every stored analysed call is re-evaluated by the queue (``GET /categories/-/reevaluation``). A name
    of the settings file is refused: it changes there."""
    try:
        saved = await serving.save_category(
            rt, jobs_app, name=name, description=body.description, rule=body.rule, actor=principal.name
        )
    except CategoryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    if saved.created:
        response.status_code = status.HTTP_201_CREATED
    return await _one(rt, saved.category.name)


@router.delete(
    "/{name:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        404: refusal("no dashboard category of that name (those of the settings file stay)"),
        **INVALID,
    },
)
async def delete_category(name: str, rt: RuntimeDep, jobs_app: JobsDep, principal: AdminDep) -> Response:
    """Delete a dashboard category: its matches leave every call at once, audited, and the stored calls are
    re-evaluated by the queue."""
    await serving.delete_category(rt, jobs_app, name=name, actor=principal.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
