"""Calls for people and tools: list and filter, the record, the audio, reprocessing.

Roles: a viewer sees metadata and analysis; an analyst also transcripts and audio; an admin may reprocess.
Every response that carries a transcript or audio writes an audit event naming the token. Text and audio
are the redacted view; ``?sensitive=true`` asks for the original, for tokens with the "view sensitive data"
permission (audited as ``sensitive_viewed`` / ``sensitive_played``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from callsense import serving
from callsense.api.deps import (
    BEHIND_A_TOKEN,
    INVALID,
    JSON_BODY,
    JSON_ONLY,
    NO_CALL,
    Principal,
    PrincipalDep,
    RequestBody,
    original_allowed,
    refusal,
    refused_below,
    require,
)
from callsense.calls import access, queries, views
from callsense.calls import service as calls
from callsense.calls.models import Call, in_utc
from callsense.calls.schemas import CallRecord, CallStatus, Sentiment
from callsense.errors import PermanentError
from callsense.pipeline import ask
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep


def _no_store(response: Response) -> None:
    """Records, transcripts and answers are decrypted for this reader only: no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(
    prefix="/calls",
    tags=["calls"],
    responses={**BEHIND_A_TOKEN, **INVALID},
    dependencies=[Depends(_no_store)],
)
SENSITIVE_REFUSED = "?sensitive=true without the 'view sensitive data' permission"


class CallPage(BaseModel):
    items: list[views.CallSummary] = Field(description="newest first (by call time, then id)")
    total: int = Field(description="calls matching the filters, on every page")
    limit: int = Field(description="the most items a page holds")
    offset: int = Field(description="items skipped before this page")
    next_cursor: str | None = Field(
        description="?cursor= for the page after this one, which neither repeats nor skips a call when calls "
        "arrive or are erased meanwhile (an offset would); null on the last page"
    )


class Reprocessing(BaseModel):
    call_id: str
    status: CallStatus
    queued: str = Field(description="the stage queued first")


class Question(RequestBody):
    question: ask.QuestionText = Field(examples=["Did the agent offer a refund?"])


IN_UTC = " (UTC unless it names an offset)"


@router.get("", response_model=CallPage)
def list_calls(
    rt: RuntimeDep,
    principal: PrincipalDep,
    status_: Annotated[
        list[CallStatus] | None,
        Query(alias="status", description="calls in this status; repeated, in any of them"),
    ] = None,
    since: Annotated[datetime | None, Query(description=f"calls at or after this time{IN_UTC}")] = None,
    until: Annotated[
        datetime | None, Query(description=f"calls before this time{IN_UTC}; after since, else 422")
    ] = None,
    language: Annotated[
        str | None, Query(max_length=16, description="Whisper's code of the language, in any case (en)")
    ] = None,
    topic: Annotated[
        str | None,
        Query(
            max_length=100, description="words the topic contains, e.g. a taxonomy label (analysis.topics)"
        ),
    ] = None,
    sentiment: Sentiment | None = None,
    outcome: Annotated[
        queries.OutcomeFilter | None,
        Query(description="calls resolved, not resolved, needing a callback, or escalated"),
    ] = None,
    agent: Annotated[
        str | None,
        Query(max_length=200, description="the agent's name, ignoring case and surrounding spaces"),
    ] = None,
    non_talk_above: Annotated[
        float | None,
        Query(
            ge=0, allow_inf_nan=False, description="calls with more seconds of non-talk time (hold, silence)"
        ),
    ] = None,
    interruptions_above: Annotated[
        int | None, Query(ge=0, description="calls where the speakers interrupted each other more often")
    ] = None,
    category: Annotated[
        str | None,
        Query(max_length=60, description="calls in this category (its name, ignoring case; see categories)"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="full-text search, as the dashboard's: words of the summary and topic, and for "
            'analysts and admins of the transcript (stemmed; "a phrase", -word to exclude, or)',
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="a page's next_cursor: the calls listed after that page's last"),
    ] = None,
) -> CallPage:
    since, until = in_utc(since), in_utc(until)
    if since is not None and until is not None and since >= until:
        # Said, as the dashboard says it beside its filters: an empty list would look like no calls.
        raise PermanentError("until is not after since: no call can match (since is included, until is not)")
    criteria = queries.CallCriteria(
        statuses=tuple(status_ or ()),
        since=since,
        until=until,
        language=language,
        topic=topic,
        topic_labels=frozenset(label.label for label in rt.settings.analysis.topics),
        sentiment=sentiment,
        outcome=outcome,
        agent=agent,
        non_talk_above=non_talk_above,
        interruptions_above=interruptions_above,
        category=category,
        text=q,  # stripped by the query's conditions, as every typed filter: blank is no search
    )
    # Viewers search the text they may read, the analysis; the transcript's words stay out of their reach.
    include_transcripts = principal.role.allows(Role.analyst)
    query = select(Call).where(
        *queries.conditions(criteria=criteria, include_transcripts=include_transcripts)
    )
    with rt.db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        if cursor is not None:
            query = query.where(queries.listed_after(cursor))
        # One more than the page: whether a next page exists, without a cursor that leads to an empty one.
        rows = list(
            session.scalars(query.order_by(queries.call_time.desc(), Call.id).limit(limit + 1).offset(offset))
        )
        page = rows[:limit]
        items = views.summaries(session=session, calls=page)
        next_cursor = queries.cursor_of(page[-1]) if len(rows) > limit else None
        return CallPage(items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


SensitiveQuery = Annotated[
    bool,
    Query(
        description="the original instead of the redacted view: needs the 'view sensitive data' permission"
    ),
]


@router.get("/{call_id}", response_model=CallRecord, responses={**NO_CALL, 403: refusal(SENSITIVE_REFUSED)})
def get_call(
    call_id: str, rt: RuntimeDep, principal: PrincipalDep, sensitive: SensitiveQuery = False
) -> CallRecord:
    """The analysed record (redacted); transcript, segments and translation only for analysts and admins."""
    original = original_allowed(principal, sensitive)
    with rt.db.transaction() as session:
        return access.read_record(
            session=session,
            keyring=rt.keyring,
            call=calls.get(session=session, call_id=call_id),
            transcript_allowed=principal.role.allows(Role.analyst),
            actor=principal.name,
            via="api",
            original=original,
        )


@router.get(
    "/{call_id}/audio",
    response_class=Response,
    responses={
        200: {"content": {"audio/*": {}}},
        206: {"content": {"audio/*": {}}},
        403: refusal(f"a token without the 'analyst' role, or {SENSITIVE_REFUSED}"),
        404: refusal("no call with that id, or no audio stored for it"),
        416: {},
    },
)
def get_audio(
    call_id: str,
    request: Request,
    rt: RuntimeDep,
    principal: Annotated[Principal, require(Role.analyst)],
    sensitive: SensitiveQuery = False,
) -> Response:
    """The recording (its redacted copy), decrypted, with HTTP range requests for seeking."""
    return serving.audio_response(
        rt,
        call_id=call_id,
        range_header=request.headers.get("range"),
        actor=principal.name,
        via="api",
        original=original_allowed(principal, sensitive),
    )


@router.post(
    "/{call_id}/reprocess",
    response_model=Reprocessing,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NO_CALL, **refused_below(Role.admin)},
)
async def reprocess(
    call_id: str, rt: RuntimeDep, app: JobsDep, principal: Annotated[Principal, require(Role.admin)]
) -> Reprocessing:
    """Run the call again: from transcription when its audio is stored, else from the download."""
    restart = await serving.reprocess(rt, app, call_id=call_id, actor=principal.name, via="api")
    return Reprocessing(call_id=call_id, status=restart.status, queued=restart.stage)


@router.post(
    "/{call_id}/ask",
    response_model=ask.CallAnswer,
    dependencies=[JSON_BODY],
    responses={
        **refused_below(Role.analyst),
        **JSON_ONLY,
        404: refusal(
            "no call with that id, or nothing to ask about (no transcript yet, or no speech: the LLM is not "
            "asked, and the asking is audited); the detail says which"
        ),
        503: refusal("the LLM or the database is unavailable: ask again after the seconds of Retry-After"),
    },
)
def ask_about_call(
    call_id: str, body: Question, rt: RuntimeDep, principal: Annotated[Principal, require(Role.analyst)]
) -> ask.CallAnswer:
    """Ask the LLM a question about the call's transcript: an answer and the turns that support it, each
    quote checked against the transcript. Needs the analyst role; every question is audited (``asked``),
    neither the question nor the answer is stored."""
    return ask.ask_about_call(rt, call_id=call_id, question=body.question, actor=principal.name, via="api")
