"""Incoming "recording ready" webhooks: authenticate, record, queue, answer 202 at once.

Every refusal answers a JSON error naming the reason (and the header at fault) and counts in
``callsense_webhook_refusals_total``; none creates a call or a job. Only refusals of authentic requests (a
replay, a correctly signed but invalid payload) write an audit event. Anyone can send unauthenticated ones
(a bad or missing signature, an oversized body, no secret configured): they write no row and log at most one
line per endpoint and reason a minute, with the number left out since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from callsense import db, metrics
from callsense.api.deps import is_json
from callsense.api.sampled_log import SampledLog
from callsense.calls import retention
from callsense.calls import service as calls
from callsense.calls.models import in_utc
from callsense.calls.schemas import CallStatus
from callsense.errors import ConfigError, SignatureError, WebhookReplayError
from callsense.pipeline import tasks
from callsense.pipeline.ingest import ingest
from callsense.runtime import Runtime
from callsense.security import signatures
from callsense.serving import JobsDep, RuntimeDep

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
T = TypeVar("T")
MAX_BODY_BYTES = 256 * 1024
CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class RecordingReady(BaseModel):
    """The recording system's notice that a call's recording can be fetched. Fields it does not name are
    taken and ignored, so a sender that adds its own still gets its calls in; the answer names them."""

    model_config = ConfigDict(extra="allow")  # in model_extra: a misspelt "agent" must not go unsaid

    call_id: str = Field(pattern=CALL_ID_PATTERN, description="The call's id in the recording system.")
    recording_url: HttpUrl
    agent: str | None = Field(default=None, max_length=200)
    customer_number: str | None = Field(default=None, max_length=40)
    direction: Direction | None = None
    started_at: Annotated[datetime | None, AfterValidator(in_utc)] = Field(
        default=None, description="UTC unless it names an offset"
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Kept with the call. Two keys name its agent: agent_channel ('left' or 'right', a stereo "
        "call) and agent_speaks ('first' or 'second' voice to say a word, a mono call); both win over the "
        "recording source's and the conversation's choice, and a value that is neither is ignored with a "
        "note on the call's trail (docs/speakers.md).",
    )


class Accepted(BaseModel):
    call_id: str
    status: CallStatus
    status_url: str
    duplicate: bool = Field(description="True when this call was already known: nothing new was queued.")
    ignored_fields: list[str] = Field(
        default_factory=list,
        description="Fields of the notice that callsense does not know, ignored (a misspelt 'agent'?); "
        "always empty for Twilio's callback, whose other fields are Twilio's own.",
    )


class Refusal(BaseModel):
    error: str = Field(description="machine-readable reason")
    detail: str
    header: str | None = None


REFUSAL_LOG = SampledLog(interval_s=60)


def _refusal(
    *, endpoint: str, reason: str, detail: str, code: int, header: str | None = None
) -> JSONResponse:
    metrics.WEBHOOK_REFUSALS.labels(endpoint=endpoint, reason=reason).inc()
    return JSONResponse(Refusal(error=reason, detail=detail, header=header).model_dump(), status_code=code)


def _refuse_unauthenticated(
    *, endpoint: str, reason: str, detail: str, code: int, header: str | None = None
) -> JSONResponse:
    """Counted and sampled in the log, never stored: the sender may hold no secret at all."""
    REFUSAL_LOG.refused(endpoint=endpoint, reason=reason, header=header)
    return _refusal(endpoint=endpoint, reason=reason, detail=detail, code=code, header=header)


async def _refuse_authentic(
    rt: Runtime, *, endpoint: str, reason: str, detail: str, code: int, header: str | None = None
) -> JSONResponse:
    """Audited: only a holder of a secret can send these, so they are few and each one is worth a row."""
    log.info("webhook refused", endpoint=endpoint, reason=reason, header=header, authentic=True)

    def audit() -> None:
        with rt.db.transaction() as session:
            calls.add_event(
                session=session,
                call_pk=None,
                stage=f"webhook:{endpoint}",
                kind="refused",
                detail=f"{reason}: {detail}",
            )

    await run_in_threadpool(audit)
    return _refusal(endpoint=endpoint, reason=reason, detail=detail, code=code, header=header)


def _invalid(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


def _details(notice: RecordingReady) -> calls.CallDetails:
    return calls.CallDetails(
        agent=notice.agent,
        customer_number=notice.customer_number,
        direction=notice.direction.value if notice.direction else None,
        started_at=notice.started_at,
        metadata=notice.metadata or None,
    )


def _erasure_of(rt: Runtime, call_id: str) -> datetime | None:
    with rt.db.transaction() as session:
        erasure = retention.erasure_of(session=session, call_id=call_id)
        return None if erasure is None else erasure.at


async def _accept(
    rt: Runtime, app: Any, *, endpoint: str, notice: RecordingReady, source: str, webhook_id: str | None
) -> JSONResponse:
    # A recording announced again after its call was erased is not taken back: that would undo the erasure
    # (folder and bucket sources keep the erased file's row for the same reason).
    if (erased_at := await run_in_threadpool(_erasure_of, rt, notice.call_id)) is not None:
        return await _refuse_authentic(
            rt,
            endpoint=endpoint,
            reason="erased",
            detail=f"call {notice.call_id} was erased on {erased_at:%Y-%m-%d %H:%M} UTC: not taken again",
            code=status.HTTP_409_CONFLICT,
        )
    try:
        call = await run_in_threadpool(
            lambda: ingest(
                rt, call_id=notice.call_id, source=source, details=_details(notice), webhook_id=webhook_id
            )
        )
    except WebhookReplayError as exc:
        return await _refuse_authentic(
            rt,
            endpoint=endpoint,
            reason="replay",
            detail=str(exc),
            header="webhook-id",
            code=status.HTTP_409_CONFLICT,
        )
    except DataError as exc:
        return await _refuse_authentic(
            rt, endpoint=endpoint, reason="invalid_payload", detail=db.unstorable(exc), code=422
        )
    ignored = sorted(notice.model_extra or {})
    if ignored:
        # Names only, as values may be personal data; the first 20 (the answer has them all).
        log.warning("webhook fields ignored", endpoint=endpoint, call_id=notice.call_id, fields=ignored[:20])
    if call.created or call.status is CallStatus.received:
        await tasks.defer_stage_async(app, "fetch", call.call_pk)
    metrics.WEBHOOKS_ACCEPTED.labels(endpoint=endpoint).inc()
    body = Accepted(
        call_id=notice.call_id,
        status=call.status,
        status_url=f"/calls/{notice.call_id}",
        duplicate=not call.created,
        ignored_fields=ignored,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


DISCONNECTED: dict[str, Any] = {
    "model": Refusal,
    "description": "the sender closed the connection before the end of its body",
}


async def _body(request: Request, endpoint: str) -> bytes | JSONResponse:
    """The request's body, read no further than ``MAX_BODY_BYTES``; past that, or when the sender goes
    away before its end, the refusal."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                return _refuse_unauthenticated(
                    endpoint=endpoint, reason="too_large", detail="body over 256 KiB", code=413
                )
    except ClientDisconnect:
        # Nobody reads this answer; refusing counts and samples it, where an error would log a traceback
        # for every such request, unauthenticated as it is.
        return _refuse_unauthenticated(
            endpoint=endpoint, reason="disconnected", detail="the sender closed the connection", code=400
        )
    return bytes(body)


@router.post(
    "/recording",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        400: DISCONNECTED,
        401: {"model": Refusal},
        409: {"model": Refusal},
        413: {"model": Refusal},
        415: {"model": Refusal},
        422: {"model": Refusal},
        503: {"model": Refusal},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RecordingReady.model_json_schema()}},
        }
    },
)
async def recording_ready(request: Request, rt: RuntimeDep, app: JobsDep) -> JSONResponse:
    """A recording is ready. Signed per Standard Webhooks (or, opt-in, a bearer token)."""
    endpoint = "recording"
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json(content_type):  # none at all: accepted, as it always was
        return _refuse_unauthenticated(
            endpoint=endpoint,
            reason="unsupported_media_type",
            detail=f"the body must be JSON (Content-Type: application/json), not {content_type}",
            header="content-type",
            code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    body = await _body(request, endpoint)
    if isinstance(body, JSONResponse):
        return body
    settings = rt.settings.webhooks

    def verify() -> str | None:
        """The webhook id of a signed request; None for a bearer token."""
        if "webhook-signature" in request.headers or not settings.bearer_tokens:
            return signatures.verify_standard_webhook(
                headers=dict(request.headers),
                body=body,
                secrets=[secret.get_secret_value() for secret in settings.secrets],
                tolerance=timedelta(seconds=settings.tolerance_s),
            ).webhook_id
        signatures.verify_bearer(
            authorization=request.headers.get("authorization"),
            tokens=[token.get_secret_value() for token in settings.bearer_tokens],
        )
        return None

    webhook_id = _authentic(endpoint, verify)
    if isinstance(webhook_id, JSONResponse):
        return webhook_id
    try:
        notice = RecordingReady.model_validate_json(body)
    except ValidationError as exc:
        return await _refuse_authentic(
            rt, endpoint=endpoint, reason="invalid_payload", detail=_invalid(exc), code=422
        )
    return await _accept(
        rt, app, endpoint=endpoint, notice=notice, source=str(notice.recording_url), webhook_id=webhook_id
    )


@router.post(
    "/twilio",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        200: {"description": "not a completed recording: ignored"},
        400: DISCONNECTED,
        401: {"model": Refusal},
        409: {"model": Refusal},
        413: {"model": Refusal},
        422: {"model": Refusal},
        503: {"model": Refusal},
    },
)
async def twilio_recording(request: Request, rt: RuntimeDep, app: JobsDep) -> JSONResponse:
    """Twilio's RecordingStatusCallback (form-encoded), checked against X-Twilio-Signature."""
    endpoint = "twilio"
    body = await _body(request, endpoint)
    if isinstance(body, JSONResponse):
        return body
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    params = dict(pairs)
    public = rt.settings.twilio.public_url
    url = (
        str(request.url)
        if not public
        else public.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    )
    refusal = _authentic(
        endpoint,
        lambda: signatures.verify_twilio(
            url=url,
            params=pairs,  # repeated keys are signed one by one, as Twilio does
            body=body,
            signature=request.headers.get("x-twilio-signature"),
            auth_tokens=[token.get_secret_value() for token in rt.settings.twilio.auth_tokens],
        ),
    )
    if refusal is not None:
        return refusal
    if params.get("RecordingStatus") != "completed":
        return JSONResponse(
            {"ignored": f"RecordingStatus is {params.get('RecordingStatus')!r}"}, status_code=200
        )
    missing = [key for key in ("RecordingSid", "RecordingUrl", "CallSid") if not params.get(key)]
    if missing:
        return await _refuse_authentic(
            rt, endpoint=endpoint, reason="invalid_payload", detail=f"missing {', '.join(missing)}", code=422
        )
    channels = params.get("RecordingChannels", "1")
    try:
        notice = RecordingReady(
            call_id=params["RecordingSid"],
            recording_url=params["RecordingUrl"],
            metadata={
                "twilio_call_sid": params["CallSid"],
                "channels": channels,
                "duration": params.get("RecordingDuration"),
            },
        )
    except ValidationError as exc:
        return await _refuse_authentic(
            rt, endpoint=endpoint, reason="invalid_payload", detail=_invalid(exc), code=422
        )
    # Twilio serves dual-channel recordings only when asked; WAV keeps them lossless.
    source = f"{notice.recording_url}.wav" + ("?RequestedChannels=2" if channels == "2" else "")
    return await _accept(rt, app, endpoint=endpoint, notice=notice, source=source, webhook_id=None)


def _authentic(endpoint: str, verify: Callable[[], T]) -> T | JSONResponse:
    """What ``verify`` returns, or the refusal (401 for a bad signature, 503 when no secret is configured:
    refuse everything rather than accept unsigned calls)."""
    try:
        return verify()
    except SignatureError as exc:
        return _refuse_unauthenticated(
            endpoint=endpoint, reason=exc.reason, detail=str(exc), header=exc.header, code=401
        )
    except ConfigError as exc:
        detail = f"webhook authentication is not configured ({exc})"
        return _refuse_unauthenticated(endpoint=endpoint, reason="not_configured", detail=detail, code=503)
