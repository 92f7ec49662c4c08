"""The CRM outbox for admins: list deliveries (dead letters included) and retry one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

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
    items: list[deliveries.DeliveryView]
    total: int  # of the deliveries chosen by status and destination, on every page
    limit: int
    offset: int


@router.get("", response_model=DeliveryPage)
def list_deliveries(
    rt: RuntimeDep,
    _: Annotated[Principal, require(Role.admin)],
    status_: Annotated[deliveries.DeliveryStatus | None, Query(alias="status")] = None,
    destination: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeliveryPage:
    """Deliveries, newest first: status, attempts, the CRM's id or its last error (dead letters: dead)."""
    with rt.db.transaction() as session:
        rows = deliveries.views(
            session=session, status=status_, destination=destination, limit=limit, offset=offset
        )
        total = deliveries.count(session=session, status=status_, destination=destination)
    return DeliveryPage(items=rows, total=total, limit=limit, offset=offset)


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
    destination: Annotated[str | None, Query(max_length=100, description="only this destination")] = None,
) -> Requeued:
    """Put every dead delivery (of one destination, or all) back in the outbox and queue them."""
    ids = await serving.retry_dead_deliveries(rt, app, actor=principal.name, destination=destination)
    return Requeued(queued=ids)
