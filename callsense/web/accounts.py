"""Dashboard users and their browser sessions. Callers own the transaction: nothing here commits.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory profile); a session is a
random token in an HttpOnly cookie whose SHA-256 is stored with the session's CSRF token and expiry.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callsense.calls.users import User, WebSession
from callsense.errors import ConfigError, NotFoundError
from callsense.security import tokens
from callsense.security.tokens import Role

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a session cookie, and the CSRF token their forms must carry."""

    user_id: uuid.UUID
    username: str
    role: Role
    csrf_token: str
    sees_sensitive: bool = False  # the "view sensitive data" permission

    @property
    def may_see_sensitive(self) -> bool:
        """The permission, with a role that reads transcripts at all."""
        return self.sees_sensitive and self.role.allows(Role.analyst)

    @property
    def actor(self) -> str:
        """How this person is named in the audit trail (API tokens appear by their bare name)."""
        return f"user:{self.username}"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(*, session: Session, username: str, role: Role, password: str) -> User:
    username = username.strip()
    if not username or len(username) > 100:
        raise ConfigError("a user name needs 1 to 100 characters")
    if session.scalars(select(User).where(User.username == username)).one_or_none() is not None:
        raise ConfigError(f"a user named '{username}' exists already")
    user = User(id=uuid.uuid4(), username=username, role=role.value, password_hash=hash_password(password))
    session.add(user)
    return user


def _named(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFoundError(f"no user named '{username}'")
    return user


def set_password(*, session: Session, username: str, password: str) -> None:
    """A new password also signs the user out everywhere."""
    user = _named(session, username)
    user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def set_role(*, session: Session, username: str, role: Role) -> None:
    """A viewer loses the "view sensitive data" permission, so that a later analyst role does not bring it
    back unnoticed: it is granted again, or not at all."""
    user = _named(session, username)
    user.role = role.value
    if not role.allows(Role.analyst):
        user.sees_sensitive = False


def set_sensitive(*, session: Session, username: str, allowed: bool) -> None:
    """Grant or withdraw the "view sensitive data" permission (takes effect on the user's next page); a
    viewer, who reads no transcript at all, cannot be granted it (as for API tokens)."""
    user = _named(session, username)
    if allowed:
        tokens.check_sensitive_grant(Role(user.role))
    user.sees_sensitive = allowed


def disable(*, session: Session, username: str) -> None:
    user = _named(session, username)
    user.disabled_at = user.disabled_at or datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def all_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, or None."""
    user = session.scalars(select(User).where(User.username == username.strip())).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = datetime.now(UTC)
    return user


def start_session(*, session: Session, user: User) -> str:
    """A new session for ``user``; returns the cookie value (shown to nobody else, stored as a digest)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(
        WebSession(
            token_sha256=tokens.digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token


def resolve_session(*, session: Session, token: str) -> SignedIn | None:
    row = session.get(WebSession, tokens.digest(token))
    if row is None or row.expires_at <= datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return SignedIn(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        csrf_token=row.csrf_token,
        sees_sensitive=user.sees_sensitive,
    )


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == tokens.digest(token)))


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())
