"""Categories: the dashboard's category definitions, each call's categories (evidence encrypted), and the
revision of the definitions each call was last evaluated with

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "category_definitions",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "call_categories",
        sa.Column("call_pk", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("evidence_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["call_pk"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_pk", "category"),
    )
    op.create_index("ix_call_categories_category", "call_categories", ["category"], unique=False)
    op.add_column("calls", sa.Column("categories_revision", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("calls", "categories_revision")
    op.drop_index("ix_call_categories_category", table_name="call_categories")
    op.drop_table("call_categories")
    op.drop_table("category_definitions")
