"""Typed FastAPI dependencies: the runtime, the job queue, and the caller's identity and role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import procrastinate
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from callsense.runtime import Runtime
from callsense.security import tokens
from callsense.security.tokens import Role


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_jobs(request: Request) -> procrastinate.App:
    jobs: procrastinate.App = request.app.state.jobs
    return jobs


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
JobsDep = Annotated[procrastinate.App, Depends(get_jobs)]
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
            return None if row is None else Principal(name=row.name, role=Role(row.role))

    principal = await run_in_threadpool(lookup)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or revoked API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(role: Role) -> Any:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the '{role.value}' role")
        return principal

    return Depends(check)
