"""recording sources and reprocessing, durable: each file's takes that ended in no outcome (``attempts``, so a
file that kills its poller is given up, not taken every 15 minutes for ever), each call's generation (a
reprocess raises it, so a stage run begun before stores nothing), and the audio digests of each source by
index (a renamed copy of a taken recording is found without a scan of every call).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_files", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("calls", sa.Column("generation", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_calls_source_name_audio_sha256",
        "calls",
        ["source_name", "audio_sha256"],
        unique=False,
        postgresql_where=sa.text("audio_sha256 is not null"),
    )


def downgrade() -> None:
    op.drop_index("ix_calls_source_name_audio_sha256", table_name="calls")
    op.drop_column("calls", "generation")
    op.drop_column("source_files", "attempts")
