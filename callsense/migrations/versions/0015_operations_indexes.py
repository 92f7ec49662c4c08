"""indexes for the operations page, which reads on every load the newest purge among all the calls' events
(six or more events a call: 70 ms at 100,000 calls, a sequential scan growing with them) and counts the calls
under legal hold (a few among all: 55 ms at 100,000 calls).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_stage_kind_at", "events", ["stage", "kind", "at"], unique=False)
    op.create_index(
        "ix_calls_legal_hold_at",
        "calls",
        ["legal_hold_at"],
        unique=False,
        postgresql_where=sa.text("legal_hold_at is not null"),
    )


def downgrade() -> None:
    op.drop_index("ix_calls_legal_hold_at", table_name="calls")
    op.drop_index("ix_events_stage_kind_at", table_name="events")
