"""retention, legal hold, erasure: the recording source that took each call (its retention rule), a legal
hold on a call, when the purge removed its recording or its text, and the call id an erasure's event keeps

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TIMES = ("legal_hold_at", "audio_purged_at", "text_purged_at")


def upgrade() -> None:
    op.add_column("calls", sa.Column("source_name", sa.String(length=100), nullable=True))
    for column in TIMES:
        op.add_column("calls", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.add_column("calls", sa.Column("legal_hold_by", sa.String(length=200), nullable=True))
    op.add_column("calls", sa.Column("legal_hold_reason", sa.Text(), nullable=True))
    op.add_column("events", sa.Column("call_id", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_events_call_id"), "events", ["call_id"], unique=False)
    # Calls a folder source took before this revision: its files' rows name it.
    op.execute(
        "update calls set source_name = f.source from source_files f "
        "where f.call_pk = calls.id and calls.source_name is null"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_events_call_id"), table_name="events")
    op.drop_column("events", "call_id")
    op.drop_column("calls", "legal_hold_reason")
    op.drop_column("calls", "legal_hold_by")
    for column in reversed(TIMES):
        op.drop_column("calls", column)
    op.drop_column("calls", "source_name")
