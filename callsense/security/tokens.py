"""API tokens with roles. Only a SHA-256 digest is stored; the token itself is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from callsense.calls.models import ApiToken
from callsense.errors import ConfigError, NotFoundError

PREFIX = "cs_"


class Role(StrEnum):
    """Each role includes the ones before it."""

    viewer = "viewer"  # call metadata and analysis
    analyst = "analyst"  # also transcripts and audio
    admin = "admin"  # also reprocessing and tokens

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


def digest(token: str) -> str:
    """The hex SHA-256 kept instead of what must not be stored in the clear: API tokens, session cookies,
    the user names of failed sign-ins. The tokens are random, so they need no salt or slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_sensitive_grant(role: Role) -> None:
    """The "view sensitive data" permission goes with a role that reads transcripts: never a viewer's."""
    if not role.allows(Role.analyst):
        raise ConfigError("the permission to view sensitive data needs the analyst or admin role")


def create(*, session: Session, name: str, role: Role, sees_sensitive: bool = False) -> str:
    """A new token; ``sees_sensitive`` grants it the "view sensitive data" permission (the original of
    redacted text and audio, asked for with ``?sensitive=true``)."""
    name = name.strip()
    if not name or len(name) > 100:  # the column's length: a longer name was a database traceback
        raise ConfigError("a token name needs 1 to 100 characters")
    if session.scalars(select(ApiToken).where(ApiToken.name == name)).one_or_none() is not None:
        raise ConfigError(f"a token named '{name}' exists already")
    if sees_sensitive:
        check_sensitive_grant(role)
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name, role=role.value, sees_sensitive=sees_sensitive, token_sha256=digest(token))
    )
    return token


def authenticate(*, session: Session, token: str) -> ApiToken | None:
    """The live token row for ``token``, or None. Looked up by digest, so timing reveals nothing."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest(token))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = datetime.now(UTC)
    return row


def revoke(*, session: Session, name: str) -> None:
    row = session.scalars(select(ApiToken).where(ApiToken.name == name)).one_or_none()
    if row is None:
        raise NotFoundError(f"no token named '{name}'")
    row.revoked_at = row.revoked_at or datetime.now(UTC)


def all_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))
