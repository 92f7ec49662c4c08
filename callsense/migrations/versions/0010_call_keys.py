"""Envelope encryption: each call's data key, wrapped by the key ring; every call already stored gets a row
without a key, which marks it for ``callsense keys migrate-envelope``

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_keys",
        sa.Column("call_pk", sa.Uuid(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enveloped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("call_pk"),
    )
    op.create_index(op.f("ix_call_keys_key_id"), "call_keys", ["key_id"], unique=False)
    op.execute("insert into call_keys (call_pk, created_at) select id, now() from calls")


def downgrade() -> None:
    op.drop_index(op.f("ix_call_keys_key_id"), table_name="call_keys")
    op.drop_table("call_keys")
