"""Legal holds and erasure on request of one call, for admins (docs/archive.md); every action audited."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from callsense.api.deps import (
    BEHIND_A_TOKEN,
    INVALID,
    JSON_BODY,
    JSON_ONLY,
    NO_CALL,
    Principal,
    RequestBody,
    refusal,
    refused_below,
    require,
)
from callsense.calls import retention
from callsense.errors import LegalHoldError
from callsense.pipeline import erasure
from callsense.security.tokens import Role
from callsense.serving import RuntimeDep

router = APIRouter(
    prefix="/calls",
    tags=["retention"],
    responses={**BEHIND_A_TOKEN, **refused_below(Role.admin), **NO_CALL, **INVALID},
)
REASON = "why: kept in the audit trail (a ticket or case number; no personal data)"
AdminDep = Annotated[Principal, require(Role.admin)]


class Reason(RequestBody):
    reason: str = Field(
        min_length=1, max_length=retention.REASON_MAX_CHARS, pattern=r"\S", description=REASON
    )


class HoldState(BaseModel):
    call_id: str
    held: bool
    at: datetime | None = Field(description="since when the call is held")
    by: str | None
    reason: str | None
    audio_purged_at: datetime | None = Field(
        description="when the retention purge took the recording, if it did"
    )
    text_purged_at: datetime | None = Field(description="when the retention purge took the text, if it did")


class ErasureDone(BaseModel):
    call_id: str
    erased_now: bool = Field(description="false: the call had been erased before, at `at`")
    at: datetime
    by: str | None
    crm_records: list[str] = Field(description="destination:record id of each CRM record to erase there too")


def _set_hold(rt: RuntimeDep, call_id: str, *, held: bool, reason: str, actor: str) -> HoldState:
    with rt.db.transaction() as session:
        hold = retention.set_hold(
            session=session, call_id=call_id, held=held, actor=actor, reason=reason, via="api"
        )
    return HoldState(**dataclasses.asdict(hold))


@router.post("/{call_id}/hold", response_model=HoldState, dependencies=[JSON_BODY], responses=JSON_ONLY)
def hold(call_id: str, body: Reason, rt: RuntimeDep, principal: AdminDep) -> HoldState:
    """Put the call under legal hold: neither the retention purge nor an erasure touches it."""
    return _set_hold(rt, call_id, held=True, reason=body.reason, actor=principal.name)


@router.post("/{call_id}/release", response_model=HoldState, dependencies=[JSON_BODY], responses=JSON_ONLY)
def release(call_id: str, body: Reason, rt: RuntimeDep, principal: AdminDep) -> HoldState:
    """Release the call's legal hold: the retention policy applies to it again."""
    return _set_hold(rt, call_id, held=False, reason=body.reason, actor=principal.name)


@router.delete("/{call_id}", response_model=ErasureDone, responses={409: refusal("legal hold")})
def erase(
    call_id: str,
    reason: Annotated[
        str, Query(min_length=1, max_length=retention.REASON_MAX_CHARS, pattern=r"\S", description=REASON)
    ],
    rt: RuntimeDep,
    principal: AdminDep,
) -> ErasureDone:
    """Erase the call for good (a data-subject request): recording, transcript, analysis, search words,
    deliveries and audit trail; one audit event survives. Erasing again answers with the first erasure."""
    try:
        done = erasure.erase(rt, call_id=call_id, actor=principal.name, reason=reason, via="api")
    except LegalHoldError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return ErasureDone(
        call_id=done.call_id, erased_now=done.erased_now, at=done.at, by=done.by, crm_records=done.crm_records
    )
