"""an index on the agent's name as the call filters compare it, ignoring case and surrounding spaces ("jane
doe" finds "Jane Doe"): without it a filter on one agent reads every call (a sequential scan of 100,000).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The expression as calls/queries.py agent_folded writes it: the planner uses an index of the same one.
    op.create_index("ix_calls_agent_folded", "calls", [sa.text("lower(btrim(agent))")], unique=False)


def downgrade() -> None:
    op.drop_index("ix_calls_agent_folded", table_name="calls")
