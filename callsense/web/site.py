"""The dashboard's plumbing: templates, who is signed in, role and CSRF checks, sign-in and sign-out.

Browsers authenticate with a session cookie (HttpOnly, SameSite=Lax, Secure except over plain http to a
loopback address); every form and htmx request that changes something carries the session's CSRF token.
The JSON API keeps bearer tokens only, so a cookie can never drive it from another site.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache, partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from callsense import __version__
from callsense.runtime import Runtime
from callsense.security.tokens import Role
from callsense.serving import RuntimeDep
from callsense.web import accounts, throttle
from callsense.web.accounts import SignedIn
from callsense.web.call_view import clock, speakers_told, utc

HERE = Path(__file__).parent
PREFIX = "/app"
SESSION_COOKIE = "callsense_session"
NEXT_MAX_CHARS = 2000  # the page to return to after signing in
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_FIELD = "csrf_token"  # read by csrf_checked from any form, so no route declares it
NAMED_FIELDS = 5  # the unknown fields a refusal names
SIGNIN_COOKIE = "callsense_signin"  # double-submit token of the sign-in form, before any session exists
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
SECURITY_HEADERS = {
    # Every script and style is a file served from here: no inline code, nothing from elsewhere.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
# A name as one path segment: Jinja's urlencode keeps "/", and a browser resolves the dot segments of a
# category named "Refund/../Return" before it posts, to the address of "Return".
templates.env.filters["segment"] = partial(quote, safe="")
templates.env.globals.update(
    prefix=PREFIX, version=__version__, clock=clock, speakers_told=speakers_told, Role=Role, utc=utc
)
router = APIRouter(include_in_schema=False)
LIMIT_MESSAGES = {
    throttle.Limit.user: "Too many failed attempts for this user. Wait a few minutes and try again.",
    throttle.Limit.client: "Too many failed sign-ins from your address. Wait a few minutes and try again.",
    throttle.Limit.total: "Too many failed sign-ins on this server. Wait a few minutes and try again.",
}


class WebRefusal(Exception):
    """A page that cannot be shown to this person; rendered as a page, not as JSON."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def cookie_secure(request: Request) -> bool:
    return not (request.url.scheme == "http" and request.url.hostname in LOOPBACK)


def session_user(request: Request, rt: Runtime) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with rt.db.transaction() as session:
        return accounts.resolve_session(session=session, token=token)


def signed_in(request: Request, rt: RuntimeDep) -> SignedIn:
    user = session_user(request, rt)
    if user is None:
        # The query string too: a bookmarked filtered list opens filtered after signing in again (unless it
        # is too long for the sign-in form to carry: a search in Japanese is nine characters a letter).
        wanted = f"{request.url.path}?{request.url.query}"
        if not request.url.query or len(wanted) > NEXT_MAX_CHARS:
            wanted = request.url.path
        target = f"{PREFIX}/sign-in?next={quote(wanted, safe='/')}"
        if request.headers.get("hx-request"):  # htmx would swap the sign-in page into a fragment
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, headers={"HX-Redirect": target})
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": target})
    return user


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def needs(role: Role) -> Any:
    def check(user: SignedInDep) -> SignedIn:
        if not user.role.allows(role):
            raise WebRefusal(status.HTTP_403_FORBIDDEN, f"This page needs the {role.value} role.")
        return user

    return Depends(check)


async def known_form_fields(request: Request) -> None:
    """Refuse a form with a field its route does not take (the dashboard applies this to every route).

    Our pages post only the fields their routes take, so another one comes from a page older than the
    server, or from a request made by hand; ignored, a misspelt optional field would be taken as not sent
    (as a JSON body's unknown key is refused, ``api.deps.RequestBody``)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return
    unknown = sorted(set((await request.form()).keys()) - _form_fields(route.dependant) - {CSRF_FIELD})
    if unknown:
        named = ", ".join(f"“{name[:60]}”" for name in unknown[:NAMED_FIELDS])
        more = f" and {len(unknown) - NAMED_FIELDS} more" if len(unknown) > NAMED_FIELDS else ""
        raise WebRefusal(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"This form could not be used: it has fields this page does not take ({named}{more}). It may "
            "come from a page older than the server: reload the page and try again.",
        )


def _form_fields(dependant: Dependant) -> set[str]:
    """The form fields a route declares, its dependencies' included."""
    return {field.alias for field in dependant.body_params}.union(
        *(_form_fields(sub) for sub in dependant.dependencies)
    )


async def csrf_checked(request: Request, user: SignedInDep) -> SignedIn:
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith("application/x-www-form"):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not accounts.same_token(user.csrf_token, given):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "This form has expired. Reload the page and try again.")
    return user


CsrfCheckedDep = Annotated[SignedIn, Depends(csrf_checked)]


def _safe_next(target: str | None) -> str:
    """Only paths of this dashboard: never another site (``//evil``, ``/\\evil``) after signing in."""
    if target and target.startswith(PREFIX + "/") and "\\" not in target:
        return target
    return f"{PREFIX}/calls"


def _sign_in_page(request: Request, *, next_path: str, error: str | None, status_code: int) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "sign_in.html",
        {"signin_token": token, "next_path": next_path, "error": error, "user": None},
        status_code=status_code,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path=f"{PREFIX}/sign-in",
    )
    return response


@router.get(f"{PREFIX}/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _sign_in_page(request, next_path=_safe_next(next), error=None, status_code=200)


@cache
def _hashing(workers: int, queue: int) -> throttle.HashingPool:
    """The process's password-checking threads (one pool, whatever the number of apps in it)."""
    return throttle.HashingPool(workers=workers, queue=queue)


def _attempt(rt: Runtime, *, username: str, password: str, client: str) -> str | throttle.Limit | None:
    """The new session's cookie value, the limit that refused the attempt, or None for a wrong name or
    password. The reservation is committed before the password is checked, so other processes count it."""
    with rt.db.transaction() as session:
        attempt = throttle.reserve(
            session=session, limits=rt.settings.sign_in, username=username, client=client
        )
    if isinstance(attempt, throttle.Limit):
        return attempt
    with rt.db.transaction() as session:
        user = accounts.authenticate(session=session, username=username, password=password)
        if user is None:
            return None
        throttle.succeeded(session=session, attempt=attempt, username=username, client=client)
        return accounts.start_session(session=session, user=user)


@router.post(f"{PREFIX}/sign-in")
async def sign_in(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    signin_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=NEXT_MAX_CHARS)] = "",
) -> Response:
    if not accounts.same_token(request.cookies.get(SIGNIN_COOKIE, ""), signin_token):
        return _sign_in_page(
            request,
            next_path=_safe_next(next),
            error="The sign-in form expired. Please try again.",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    limits = rt.settings.sign_in
    client = throttle.client_key(request.client.host if request.client else None)
    # Waiting for a check holds no thread of the shared pool: the webhooks and pages keep theirs.
    job = _hashing(limits.hash_concurrency, limits.hash_queue).submit(
        partial(_attempt, rt, username=username, password=password, client=client)
    )
    if job is None:
        busy = _sign_in_page(
            request,
            next_path=_safe_next(next),
            error="The server is busy. Try again in a moment.",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        busy.headers["Retry-After"] = "1"
        return busy
    token = await asyncio.wrap_future(job)
    if isinstance(token, throttle.Limit):
        return _sign_in_page(
            request,
            next_path=_safe_next(next),
            error=LIMIT_MESSAGES[token],
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if token is None:
        return _sign_in_page(
            request,
            next_path=_safe_next(next),
            error="Wrong user name or password.",
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        path="/",
    )
    response.delete_cookie(SIGNIN_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@router.post(f"{PREFIX}/sign-out")
def sign_out(request: Request, rt: RuntimeDep, _: CsrfCheckedDep) -> Response:
    with rt.db.transaction() as session:
        accounts.end_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
@router.get(PREFIX)
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/calls", status_code=status.HTTP_303_SEE_OTHER)
