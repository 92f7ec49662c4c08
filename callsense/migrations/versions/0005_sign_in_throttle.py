"""sign-in throttle: failed and in-flight dashboard sign-ins, shared by every serve process

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username_sha256", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sign_in_attempts_started_at"), "sign_in_attempts", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_attempts_started_at"), table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
