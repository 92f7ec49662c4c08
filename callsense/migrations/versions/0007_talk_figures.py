"""talk figures: talk time, interruptions and non-talk time of each call, in clear (numbers, never words)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("talk", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("calls", "talk")
