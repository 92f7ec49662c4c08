"""The dashboard's pages: calls, one call (with its audio), insights, operations, and the admin actions."""

from __future__ import annotations

import codecs
import hashlib
import hmac
import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from callsense import serving
from callsense.calls import categories
from callsense.calls.queries import OutcomeFilter
from callsense.calls.schemas import CallStatus, Sentiment
from callsense.errors import NotFoundError
from callsense.pipeline import categorise
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.serving import JobsDep, RuntimeDep
from callsense.web import accounts, call_list, call_view, insights, operations
from callsense.web.accounts import SignedIn
from callsense.web.filters import CallFilters
from callsense.web.site import PREFIX, CsrfCheckedDep, SignedInDep, WebRefusal, needs, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
INSIGHTS_DEFAULT_DAYS = 30
COLUMNS = [  # (sort key or None, heading)
    ("time", "Time (UTC)"),
    ("duration", "Duration"),
    ("language", "Language"),
    ("agent", "Agent"),
    ("topic", "Topic"),
    ("sentiment", "Sentiment"),
    (None, "Emotion"),
    ("status", "Status"),
    (None, "CRM"),
]


def _no_call(call_id: str) -> str:
    return f"There is no call with the id “{call_id}”."


def _menus(rt: Runtime, session: Session) -> dict[str, Any]:
    """What the filter bar offers; the topic list starts with the taxonomy's labels, then older topics."""
    choices = call_list.filter_choices(session=session, cache_key=rt.db.url_for_display)
    labels = [topic.label for topic in rt.settings.analysis.topics]
    return {
        "topics": [*labels, *(topic for topic in choices.topics if topic not in labels)],
        "languages": choices.languages,
        "agents": choices.agents,
        "sentiments": [s.value for s in Sentiment],
        "statuses": [s.value for s in CallStatus],
        "outcomes": [o.value for o in OutcomeFilter],
        "categories": [
            c.name for c in categories.in_force(session=session, configured=rt.settings.categories)
        ],
    }


def _filters(params: Any, rt: Runtime) -> CallFilters:
    """The filters of a page's query string, with the taxonomy a topic filter reads."""
    return CallFilters.parse(params, topic_labels=frozenset(t.label for t in rt.settings.analysis.topics))


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("/calls")
def calls_page(request: Request, rt: RuntimeDep, user: SignedInDep) -> HTMLResponse:
    params = request.query_params
    filters = _filters(params, rt)
    sort = params.get("sort", "time")
    sort = sort if sort in call_list.SORTS else "time"
    descending = params.get("dir", "desc") != "asc"
    with rt.db.transaction() as session:
        result = call_list.fetch_page(
            session=session,
            filters=filters,
            include_transcripts=user.role.allows(Role.analyst),
            sort=sort,
            descending=descending,
            after=params.get("after"),
            before=params.get("before"),
        )
        menus = _menus(rt, session)
    fragment = _is_htmx(request) and request.headers.get("hx-target") == "call-results"
    context = {
        "fragment": fragment,
        "user": user,
        "filters": filters,
        "page": result,
        "menus": menus,
        "sort": sort,
        "descending": descending,
        "columns": COLUMNS,
        "search_scope": "transcripts and summaries" if user.role.allows(Role.analyst) else "summaries",
    }
    if not fragment:
        return page(request, "calls.html", context)
    response = page(request, "call_results.html", context)
    # The address the browser shows (and a lead bookmarks): the filters set, not the form's every empty field.
    shown = filters.query_string(sort=sort, dir="desc" if descending else "asc")
    response.headers["HX-Push-Url"] = f"{request.url.path}?{shown}"
    return response


def view_token(user: SignedIn, call_id: str) -> str:
    """What a link must carry to open this call's transcript or audio from a request that may not be this
    person's own doing: derived from their session's CSRF secret, so another site cannot make one."""
    return hmac.new(user.csrf_token.encode(), f"view:{call_id}".encode(), hashlib.sha256).hexdigest()


def deliberate(request: Request, user: SignedIn, call_id: str) -> bool:
    """Whether opening the call is this person's doing, so that the transcript is shown and the view
    audited. A page of another site can navigate the browser here (the session cookie is SameSite=Lax) and
    would make the person "view" the call; the browser says where a request comes from (Fetch Metadata:
    ``same-origin`` from our pages, ``none`` for a typed URL or a bookmark). Anything else, a browser that
    does not say included, needs the link with ``view_token``."""
    if request.headers.get("sec-fetch-site") in {"same-origin", "none"}:
        return True
    return confirmed(request, user, call_id)


def confirmed(request: Request, user: SignedIn, call_id: str) -> bool:
    """Whether the request carries ``view_token``: it follows a link of one of this person's own pages."""
    return accounts.same_token(view_token(user, call_id), request.query_params.get("confirm"))


def asks_original(request: Request, user: SignedIn, call_id: str) -> bool:
    """Whether the page or the player asks for the original of redacted text and audio; refused to anyone
    without the permission. Only the page's own "Show sensitive data" button (and the player it then shows)
    counts, by its ``view_token``: a bare ``?sensitive=1`` also arrives from a link clicked in a mail client
    (``Sec-Fetch-Site: none``) or as the sign-in form's ``next`` (same-origin), and would put a
    ``sensitive_viewed`` in the person's name; it gets the redacted view, with the button."""
    if request.query_params.get("sensitive") != "1":
        return False
    if not user.may_see_sensitive:
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Sensitive data needs the permission to view it.")
    return confirmed(request, user, call_id)


def list_link(request: Request) -> str:
    """Where the call page's "Calls" link goes: back to the list the call was opened from, with its filters,
    sort and page (the browser sends that address as the referrer, this site's own only), else the list."""
    came_from = urlsplit(request.headers.get("referer", ""))
    ours = urlsplit(str(request.base_url))
    # Only its path and query are used; the host is compared, not the scheme (a TLS proxy may not say it).
    if (came_from.netloc, came_from.path) == (ours.netloc, f"{PREFIX}/calls"):
        return f"{came_from.path}?{came_from.query}" if came_from.query else came_from.path
    return f"{PREFIX}/calls"


@router.get("/calls/{call_id}")
def call_page(call_id: str, request: Request, rt: RuntimeDep, user: SignedInDep) -> HTMLResponse:
    may_read = user.role.allows(Role.analyst)
    held_back = may_read and not deliberate(request, user, call_id)
    original = asks_original(request, user, call_id)
    with rt.db.transaction() as session:
        try:
            view = call_view.load(
                session=session,
                keyring=rt.keyring,
                call_id=call_id,
                transcript_allowed=may_read and not held_back,
                actor=user.actor,
                original=original,
                redacting=rt.settings.redaction.enabled,
            )
        except NotFoundError:
            raise WebRefusal(status.HTTP_404_NOT_FOUND, _no_call(call_id)) from None
    context = {
        "user": user,
        "view": view,
        "record": view.record,
        "held_back": held_back,
        "list_link": list_link(request),
        "view_token": view_token(user, call_id) if may_read else None,
    }
    return page(request, "call.html", context)


@router.get("/calls/{call_id}/audio")
def call_audio(
    call_id: str, request: Request, rt: RuntimeDep, user: Annotated[SignedIn, needs(Role.analyst)]
) -> Response:
    """The recording for the page's player: decrypted, served in ranges, audited (as for the API)."""
    if not deliberate(request, user, call_id):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Open the call's page to play its recording.")
    try:
        response = serving.audio_response(
            rt,
            call_id=call_id,
            range_header=request.headers.get("range"),
            actor=user.actor,
            via="web",
            original=asks_original(request, user, call_id),
        )
    except NotFoundError as exc:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no recording to play: {exc}.") from None
    return response


@router.post("/calls/{call_id}/reprocess")
async def reprocess(
    call_id: str, request: Request, rt: RuntimeDep, jobs_app: JobsDep, user: CsrfCheckedDep
) -> Response:
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Reprocessing needs the admin role.")
    try:
        restart = await serving.reprocess(rt, jobs_app, call_id=call_id, actor=user.actor, via="web")
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, _no_call(call_id)) from None
    if _is_htmx(request):
        return HTMLResponse(
            f'<span class="badge badge-info" role="status">Queued from {restart.stage}</span>'
        )
    return RedirectResponse(f"{PREFIX}/calls/{quote(call_id)}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/deliveries/retry-all")
async def retry_dead_deliveries(
    request: Request, rt: RuntimeDep, jobs_app: JobsDep, user: CsrfCheckedDep
) -> Response:
    """Requeue every dead delivery (audited) and queue them: after a CRM token expired mid-batch, say."""
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Retrying deliveries needs the admin role.")
    ids = await serving.retry_dead_deliveries(rt, jobs_app, actor=user.actor)
    if _is_htmx(request):
        queued = f"{len(ids)} deliveries queued"
        return HTMLResponse(f'<span class="badge badge-info" role="status">{queued}</span>')
    return RedirectResponse(f"{PREFIX}/operations", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: uuid.UUID, request: Request, rt: RuntimeDep, jobs_app: JobsDep, user: CsrfCheckedDep
) -> Response:
    """Requeue the delivery (audited) and queue its job, on behalf of the signed-in admin."""
    if not user.role.allows(Role.admin):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Retrying deliveries needs the admin role.")
    try:
        retried = await serving.retry_delivery(rt, jobs_app, delivery_id=delivery_id, actor=user.actor)
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, "There is no such delivery.") from None
    if _is_htmx(request):
        return HTMLResponse(f'<span class="badge badge-info" role="status">Delivery {retried.status}</span>')
    return RedirectResponse(f"{PREFIX}/calls/{quote(retried.call_id)}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/insights")
def insights_page(request: Request, rt: RuntimeDep, user: SignedInDep) -> HTMLResponse:
    filters = _filters(request.query_params, rt).with_default_period(INSIGHTS_DEFAULT_DAYS)
    include = user.role.allows(Role.analyst)
    with rt.db.transaction() as session:
        totals = insights.summary(session=session, filters=filters, include_transcripts=include)
        tables = insights.charts(session=session, filters=filters, include_transcripts=include)
        menus = _menus(rt, session)
    chart_data = {name: {"columns": t.columns, "rows": t.plain_rows()} for name, t in tables.items()}
    context = {
        "user": user,
        "filters": filters,
        "totals": totals,
        "tables": tables,
        "chart_data": chart_data,
        "menus": menus,
        "empty_with_calls": insights.EMPTY_WITH_CALLS,
    }
    return page(request, "insights.html", context)


@router.get("/insights/{name}.csv")
def insights_csv(name: str, request: Request, rt: RuntimeDep, user: SignedInDep) -> Response:
    if name not in insights.CHARTS:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no chart called “{name}”.")
    filters = _filters(request.query_params, rt).with_default_period(INSIGHTS_DEFAULT_DAYS)
    with rt.db.transaction() as session:
        table = insights.chart(
            name, session=session, filters=filters, include_transcripts=user.role.allows(Role.analyst)
        )
    period = f"{filters.since or 'start'}_{filters.until or 'now'}"
    return Response(
        # The byte order mark tells Excel the file is UTF-8; without it, Excel reads the machine's code page
        # and agent names in Japanese, Cyrillic or Hebrew arrive garbled.
        codecs.BOM_UTF8 + table.to_csv().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="callsense-{name}-{period}.csv"'},
    )


@router.get("/operations")
def operations_page(
    request: Request, rt: RuntimeDep, user: Annotated[SignedIn, needs(Role.admin)]
) -> HTMLResponse:
    reevaluation = categorise.progress(rt)
    with rt.db.transaction() as session:
        context = {
            "user": user,
            "queues": operations.queue_depth(session=session, reevaluation=reevaluation),
            "failed": operations.failed_calls(session=session),
            "dead": operations.dead_deliveries(session=session),
            "dead_total": operations.dead_total(session=session),
            "sources": operations.sources(session=session, configured=rt.settings.sources.all()),
            "retention": operations.retention_state(session=session, settings=rt.settings.retention),
        }
    return page(request, "operations.html", context)
