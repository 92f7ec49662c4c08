"""Calls for people and tools: list and filter, the record, the audio, reprocessing.

Roles: a viewer sees metadata and analysis; an analyst also transcripts and audio; an admin may reprocess.
Every response that carries a transcript or audio writes an audit event naming the token.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import procrastinate
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from callsense.api.deps import JobsDep, Principal, PrincipalDep, RuntimeDep, require
from callsense.calls import search
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallRecord, CallStatus, Sentiment
from callsense.errors import NotFoundError
from callsense.pipeline import tasks as jobs
from callsense.runtime import Runtime
from callsense.security.tokens import Role

router = APIRouter(prefix="/calls", tags=["calls"])
AUDIO_TYPES = {"flac": "audio/flac", "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}


class CallSummary(BaseModel):
    call_id: str
    status: CallStatus
    timestamp: datetime
    duration: float | None
    language: str | None
    agent: str | None
    direction: str | None
    topic: str | None
    sentiment: str | None
    emotion: str | None


class CallPage(BaseModel):
    items: list[CallSummary]
    total: int
    limit: int
    offset: int


class Reprocessing(BaseModel):
    call_id: str
    status: CallStatus
    queued: str = Field(description="the stage queued first")


def _summary(call: Call) -> CallSummary:
    return CallSummary(
        call_id=call.call_id,
        status=CallStatus(call.status),
        timestamp=call.started_at or call.created_at,
        duration=call.duration_s,
        language=call.language,
        agent=call.agent,
        direction=call.direction,
        topic=call.topic,
        sentiment=call.sentiment,
        emotion=call.emotion,
    )


@router.get("", response_model=CallPage)
def list_calls(
    rt: RuntimeDep,
    _: PrincipalDep,
    status_: Annotated[CallStatus | None, Query(alias="status")] = None,
    since: Annotated[datetime | None, Query(description="calls at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="calls before this time")] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    topic: Annotated[str | None, Query(max_length=100, description="words the topic contains")] = None,
    sentiment: Sentiment | None = None,
    agent: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CallPage:
    when = func.coalesce(Call.started_at, Call.created_at)
    query = select(Call)
    if status_ is not None:
        query = query.where(Call.status == status_.value)
    if since is not None:
        query = query.where(when >= since)
    if until is not None:
        query = query.where(when < until)
    if language:
        query = query.where(Call.language == language)
    if topic:
        query = query.where(Call.topic.ilike("%" + re.sub(r"([%_\\])", r"\\\1", topic) + "%"))
    if sentiment is not None:
        query = query.where(Call.sentiment == sentiment.value)
    if agent:
        query = query.where(Call.agent == agent)
    with rt.db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(when.desc(), Call.id).limit(limit).offset(offset)).all()
        return CallPage(items=[_summary(call) for call in rows], total=total, limit=limit, offset=offset)


def _load(rt: Runtime, call_id: str) -> Call:
    with rt.db.transaction() as session:
        try:
            return calls.get(session=session, call_id=call_id)
        except NotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


@router.get("/{call_id}", response_model=CallRecord)
def get_call(call_id: str, rt: RuntimeDep, principal: PrincipalDep) -> CallRecord:
    """The analysed record; transcript, segments and translation only for analysts and admins."""
    with rt.db.transaction() as session:
        try:
            call = calls.get(session=session, call_id=call_id)
        except NotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
        record = calls.to_record(call=call, keyring=rt.keyring)
        if principal.role.allows(Role.analyst):
            calls.add_event(
                session=session, call_pk=call.id, stage="api", kind="transcript_viewed", actor=principal.name
            )
            return record
    return record.model_copy(update={"transcript": "", "segments": [], "translated_transcript": None})


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range asked for, or None for the whole file; raises 416 when it cannot be served."""
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.groups() == ("", ""):
        raise HTTPException(
            status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"}
        )
    first, last = match.groups()
    start, end = (
        (size - int(last), size - 1) if first == "" else (int(first), int(last) if last else size - 1)
    )
    start, end = max(start, 0), min(end, size - 1)
    if start > end:
        raise HTTPException(
            status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


@router.get(
    "/{call_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}}, 206: {"content": {"audio/*": {}}}, 416: {}},
)
def get_audio(
    call_id: str, request: Request, rt: RuntimeDep, principal: Annotated[Principal, require(Role.analyst)]
) -> Response:
    """The recording, decrypted, with HTTP range requests for seeking."""
    return audio_response(rt, call_id, range_header=request.headers.get("range"), actor=principal.name)


def audio_response(rt: Runtime, call_id: str, *, range_header: str | None, actor: str) -> Response:
    """The decrypted recording (or the byte range asked for), audited; shared with the dashboard."""
    call = _load(rt, call_id)
    if call.audio_blob is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this call has no audio stored")
    audio = rt.keyring.decrypt(
        rt.blobs.get(calls.audio_blob_key(call.id)), context=calls.audio_context(call.id)
    )
    kind = (call.audio_format or "").split("/", 1)[0].split(",")[0]
    media_type = AUDIO_TYPES.get(
        kind, "audio/mp4" if "mp4" in kind or "mov" in kind else "application/octet-stream"
    )
    byte_range = _range(range_header, len(audio))
    with rt.db.transaction() as session:
        calls.add_event(session=session, call_pk=call.id, stage="api", kind="audio_streamed", actor=actor)
    headers = {"Accept-Ranges": "bytes"}
    if byte_range is None:
        return Response(audio, media_type=media_type, headers=headers)
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end}/{len(audio)}"
    return Response(audio[start : end + 1], status_code=206, media_type=media_type, headers=headers)


@router.post("/{call_id}/reprocess", response_model=Reprocessing, status_code=status.HTTP_202_ACCEPTED)
async def reprocess(
    call_id: str, rt: RuntimeDep, app: JobsDep, principal: Annotated[Principal, require(Role.admin)]
) -> Reprocessing:
    """Run the call again: from transcription when its audio is stored, else from the download."""
    return await reprocess_call(rt, app, call_id, actor=principal.name)


async def reprocess_call(rt: Runtime, app: procrastinate.App, call_id: str, *, actor: str) -> Reprocessing:
    """Drop the call's transcript and analysis and queue its first stage again; shared with the dashboard."""

    def reset() -> tuple[str, str, CallStatus]:
        with rt.db.transaction() as session:
            try:
                call = calls.lock(session=session, call_pk=calls.get(session=session, call_id=call_id).id)
            except NotFoundError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
            stage = "transcribe" if call.audio_blob is not None else "fetch"
            call.transcript = None
            call.analysis = None
            search.forget(session=session, call_pk=call.id)
            new_status = CallStatus.fetched if stage == "transcribe" else CallStatus.received
            calls.set_status(session=session, call=call, status=new_status)
            calls.add_event(session=session, call_pk=call.id, stage="api", kind="reprocess", actor=actor)
            return str(call.id), stage, new_status

    call_pk, stage, new_status = await run_in_threadpool(reset)
    await jobs.defer_stage_async(app, stage, call_pk)
    return Reprocessing(call_id=call_id, status=new_status, queued=stage)
