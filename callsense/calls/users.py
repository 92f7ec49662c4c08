"""Tables of the dashboard: the people who sign in, their browser sessions and failed sign-ins.

They share ``Base`` with the call tables so that one Alembic history owns the whole schema.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from callsense.calls.models import Base, Call, utcnow


class User(Base):
    """A person who signs in to the dashboard; the password is kept as an argon2id hash only."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # The "view sensitive data" permission: the original of redacted text and audio, each reading audited.
    sees_sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy of the
    database cannot be replayed as a session, and signing out deletes the row."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInAttempt(Base):
    """A sign-in that failed or is being checked, counted against the limits of ``callsense.web.throttle``.
    Rows older than the window are deleted as new attempts come, so the table never holds more than
    ``sign_in.max_failures_total`` rows."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # SHA-256 of the normalised name: people type passwords into the name field.
    username_sha256: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


# The call list pages by keyset on (sort key, id): these make the default order (time) and the duration
# order an index range scan at any depth. Declared here, on the calls table, because only the dashboard
# sorts by them.
Index("ix_calls_when", func.coalesce(Call.started_at, Call.created_at), Call.id)
Index("ix_calls_duration", func.coalesce(Call.duration_s, -1), Call.id)
