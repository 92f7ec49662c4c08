"""dashboard: users, browser sessions, the search index of calls, indexes for sorting the call list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"], unique=False)
    op.create_table(
        "call_search",
        sa.Column("call_pk", sa.Uuid(), nullable=False),
        sa.Column("transcript_lexemes", postgresql.TSVECTOR(), nullable=True),
        sa.Column("analysis_lexemes", postgresql.TSVECTOR(), nullable=True),
        sa.ForeignKeyConstraint(["call_pk"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_pk"),
    )
    op.create_index(
        "ix_call_search_transcript", "call_search", ["transcript_lexemes"], postgresql_using="gin"
    )
    op.create_index("ix_call_search_analysis", "call_search", ["analysis_lexemes"], postgresql_using="gin")
    # The call list pages by keyset on (sort key, id): see callsense/calls/users.py.
    op.execute("CREATE INDEX ix_calls_when ON calls ((coalesce(started_at, created_at)), id)")
    op.execute("CREATE INDEX ix_calls_duration ON calls ((coalesce(duration_s, -1)), id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_calls_duration")
    op.execute("DROP INDEX ix_calls_when")
    op.drop_table("call_search")
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("users")
