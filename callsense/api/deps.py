"""Typed FastAPI dependencies of the API: the caller's identity and role, from a bearer token; and the
OpenAPI responses of their refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.serving import RuntimeDep


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    sees_sensitive: bool = False  # the "view sensitive data" permission (``callsense tokens create``)


_bearer = HTTPBearer(auto_error=False, description="An API token from `callsense tokens create`.")


async def get_principal(
    rt: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="an API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def lookup() -> Principal | None:
        with rt.db.transaction() as session:
            row = tokens.authenticate(session=session, token=credentials.credentials)
            if row is None:
                return None
            return Principal(name=row.name, role=Role(row.role), sees_sensitive=row.sees_sensitive)

    principal = await run_in_threadpool(lookup)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or revoked API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class ErrorDetail(BaseModel):
    """The body of every refusal outside the webhooks (and of 422s that are not a parameter's validation)."""

    detail: str = Field(description="what was refused and why, in words")


def refusal(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with ``{"detail": "..."}``: declared, so a generated client reads it."""
    return {"model": ErrorDetail, "description": description}


# The refusals of every route behind a token, for its OpenAPI responses (``APIRouter(responses=...)``).
# The token is looked up in the database first, so each of them answers a database outage with a 503.
BEHIND_A_TOKEN: dict[int | str, dict[str, Any]] = {
    401: refusal("no API token, or an unknown or revoked one"),
    503: refusal("the database is unreachable: ask again after the seconds of Retry-After"),
}


def refused_below(role: Role) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI response of a route that ``require(role)`` guards."""
    return {403: refusal(f"a token without the '{role.value}' role")}


NO_CALL: dict[int | str, dict[str, Any]] = {404: refusal("no call with that id")}


class RequestBody(BaseModel):
    """The base of every JSON body a person writes to the API (the recording webhook's notices aside, which
    take and name extra fields): a key the body does not declare is refused with a 422 whose ``loc`` names
    it. Ignored, a misspelt optional key would be saved as if it had not been sent."""

    model_config = ConfigDict(extra="forbid")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: the part of the request, then the parameter or key")
    msg: str
    type: str


class InvalidParameters(BaseModel):
    """FastAPI's answer to a parameter or body that fails its declared type or limits."""

    detail: list[ValidationIssue]


def unprocessable(description: str) -> dict[int | str, dict[str, Any]]:
    """The 422 of a route that refuses a value in words (``{"detail": "..."}``: a bad cursor or category, a
    NUL that PostgreSQL cannot store) besides FastAPI's validation of its parameters (``detail`` a list)."""
    return {422: {"model": ErrorDetail | InvalidParameters, "description": description}}


INVALID = unprocessable("a parameter that is not valid: the detail says which, and why")


def is_json(content_type: str | None) -> bool:
    """application/json or a +json type, parameters aside: what FastAPI parses as JSON."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


async def _json_body(request: Request) -> None:
    # FastAPI hands a body of another type to validation as bytes, whose 422 says nothing of the type.
    if await request.body() and not is_json(content_type := request.headers.get("content-type")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"the body must be JSON (Content-Type: application/json), not {content_type or 'untyped'}",
        )


# A route with a JSON body: ``dependencies=[JSON_BODY]`` and these among its OpenAPI responses.
JSON_BODY = Depends(_json_body)
JSON_ONLY: dict[int | str, dict[str, Any]] = {
    415: refusal("a body that is not JSON (a Content-Type other than application/json)")
}


def require(role: Role) -> Any:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the '{role.value}' role")
        return principal

    return Depends(check)


def original_allowed(principal: Principal, asked: bool) -> bool:
    """Whether to serve the original of redacted text or audio: asked for, by an analyst (or admin) token
    with the "view sensitive data" permission; asking without it is refused, not quietly redacted."""
    if not asked:
        return False
    if not (principal.sees_sensitive and principal.role.allows(Role.analyst)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="this needs the 'view sensitive data' permission"
        )
    return True
