"""The CRM outbox for admins: list deliveries (dead letters included) and retry one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from callsense import serving
from callsense.api.deps import BEHIND_A_TOKEN, INVALID, Principal, refusal, refused_below, require
from callsense.calls import deliveries
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep

router = APIRouter(
    prefix="/deliveries",
    tags=["deliveries"],
    responses={**BEHIND_A_TOKEN, **refused_below(Role.admin), **INVALID},
)


class DeliveryPage(BaseModel):
    items: list[deliveries.DeliveryView] = Field(description="newest first (by creation time, then id)")
    total: int = Field(description="deliveries chosen by status and destination, on every page")
    limit: int = Field(description="the most items a page holds")
    offset: int = Field(description="items skipped before this page")
    next_cursor: str | None = Field(
        description="?cursor= for the page after this one, which neither repeats nor skips a delivery when "
        "deliveries are queued meanwhile (an offset would); null on the last page"
    )


@router.get("", response_model=DeliveryPage)
def list_deliveries(
    rt: RuntimeDep,
    _: Annotated[Principal, require(Role.admin)],
    status_: Annotated[deliveries.DeliveryStatus | None, Query(alias="status")] = None,
    destination: Annotated[
        str | None,
        Query(
            max_length=100, description="a configured destination, or one the outbox still holds; else 422"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="a page's next_cursor: the deliveries after that page's last"),
    ] = None,
) -> DeliveryPage:
    """Deliveries, newest first: status, attempts, the CRM's id or its last error (dead letters: dead)."""
    with rt.db.transaction() as session:
        deliveries.check_listed(session=session, destination=destination, settings=rt.settings.deliveries)
        # One more than the page: whether a next page exists, without a cursor that leads to an empty one.
        rows = deliveries.views(
            session=session,
            status=status_,
            destination=destination,
            limit=limit + 1,
            offset=offset,
            after=cursor,
        )
        total = deliveries.count(session=session, status=status_, destination=destination)
    page = rows[:limit]
    next_cursor = deliveries.cursor_of(page[-1]) if len(rows) > limit else None
    return DeliveryPage(items=page, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


@router.post(
    "/{delivery_id}/retry",
    response_model=deliveries.DeliveryView,
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: refusal("no delivery with that id")},
)
async def retry_delivery(
    delivery_id: uuid.UUID, rt: RuntimeDep, app: JobsDep, principal: Annotated[Principal, require(Role.admin)]
) -> deliveries.DeliveryView:
    """Put a dead or skipped delivery back in the outbox (its retry age starts again) and queue it."""
    return await serving.retry_delivery(rt, app, delivery_id=delivery_id, actor=principal.name)


class Requeued(BaseModel):
    queued: list[uuid.UUID]


@router.post("/retry-all", response_model=Requeued, status_code=status.HTTP_202_ACCEPTED)
async def retry_dead_deliveries(
    rt: RuntimeDep,
    app: JobsDep,
    principal: Annotated[Principal, require(Role.admin)],
    destination: Annotated[
        str | None, Query(max_length=100, description="only this configured destination; else 422")
    ] = None,
) -> Requeued:
    """Put every dead delivery (of one destination, or all) back in the outbox and queue them."""
    ids = await serving.retry_dead_deliveries(rt, app, actor=principal.name, destination=destination)
    return Requeued(queued=ids)
