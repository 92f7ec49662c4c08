"""The call page's admin controls for legal hold and erasure on request (docs/archive.md)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from callsense.calls import retention
from callsense.errors import LegalHoldError, NotFoundError
from callsense.pipeline import erasure
from callsense.security.tokens import Role
from callsense.serving import RuntimeDep
from callsense.web.accounts import SignedIn
from callsense.web.site import PREFIX, CsrfCheckedDep, WebRefusal, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
# Checked here rather than by Form(): the refusal then says what a reason is.
ReasonField = Annotated[str, Form()]


def _admin_reason(given: str, user: SignedIn, action: str) -> str:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, f"{action} needs the admin role.")
    reason = given.strip()
    if not reason:
        raise WebRefusal(status.HTTP_400_BAD_REQUEST, f"{action} needs a reason (a ticket or case number).")
    if len(reason) > retention.REASON_MAX_CHARS or "\x00" in reason:  # the API's limit; a NUL no row can hold
        raise WebRefusal(
            status.HTTP_400_BAD_REQUEST,
            f"The reason is a ticket or case number: at most {retention.REASON_MAX_CHARS} characters.",
        )
    return reason


@router.post("/calls/{call_id}/hold")
async def hold(call_id: str, rt: RuntimeDep, user: CsrfCheckedDep, reason: ReasonField = "") -> Response:
    reason = _admin_reason(reason, user, "A legal hold")
    await run_in_threadpool(_set_hold, rt, call_id, True, reason, user.actor)
    return RedirectResponse(f"{PREFIX}/calls/{quote(call_id)}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/calls/{call_id}/release")
async def release(call_id: str, rt: RuntimeDep, user: CsrfCheckedDep, reason: ReasonField = "") -> Response:
    reason = _admin_reason(reason, user, "Releasing a legal hold")
    await run_in_threadpool(_set_hold, rt, call_id, False, reason, user.actor)
    return RedirectResponse(f"{PREFIX}/calls/{quote(call_id)}", status_code=status.HTTP_303_SEE_OTHER)


def _set_hold(rt: RuntimeDep, call_id: str, held: bool, reason: str, actor: str) -> None:
    try:
        with rt.db.transaction() as session:
            retention.set_hold(
                session=session, call_id=call_id, held=held, actor=actor, reason=reason, via="web"
            )
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no call with the id “{call_id}”.") from None


@router.post("/calls/{call_id}/erase")
async def erase(
    call_id: str,
    request: Request,
    rt: RuntimeDep,
    user: CsrfCheckedDep,
    reason: ReasonField = "",
    confirm_call_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Erase the call (the page asked for confirmation), then say what was done."""
    reason = _admin_reason(reason, user, "Erasing a call")
    if confirm_call_id.strip() != call_id:
        raise WebRefusal(status.HTTP_400_BAD_REQUEST, "To erase a call, type its id to confirm.")
    try:
        done = await run_in_threadpool(
            lambda: erasure.erase(rt, call_id=call_id, actor=user.actor, reason=reason, via="web")
        )
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no call with the id “{call_id}”.") from None
    except LegalHoldError as exc:
        raise WebRefusal(status.HTTP_409_CONFLICT, str(exc)) from None
    return page(request, "erased.html", {"user": user, "erasure": done})
