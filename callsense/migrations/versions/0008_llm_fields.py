"""LLM fields: the outcome of a call in clear, so that the call list and insights can filter and count it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OUTCOMES = ("resolved", "callback_needed", "escalated")


def upgrade() -> None:
    for flag in OUTCOMES:
        op.add_column("calls", sa.Column(flag, sa.Boolean(), nullable=True))
    op.create_index(op.f("ix_calls_topic"), "calls", ["topic"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_topic"), table_name="calls")
    for flag in OUTCOMES:
        op.drop_column("calls", flag)
