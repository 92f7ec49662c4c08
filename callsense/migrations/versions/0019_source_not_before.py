"""a recording source's "not before": a REST source's API that answered 429 or 503 with a Retry-After is not
polled again before then, by any worker, also after a restart.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_status", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("source_status", "not_before")
