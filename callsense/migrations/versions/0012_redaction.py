"""redaction: the stored texts become the redacted view, the originals move to their own encrypted columns
readable with the "view sensitive data" permission, and a redacted copy of the recording

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ORIGINALS = (
    ("transcripts", "segments_original_enc"),
    ("transcripts", "translated_original_enc"),
    ("analyses", "result_original_enc"),
)
PERMITTED = ("users", "api_tokens")


def upgrade() -> None:
    for table, column in ORIGINALS:
        op.add_column(table, sa.Column(column, sa.LargeBinary(), nullable=True))
    op.add_column("calls", sa.Column("redaction", sa.JSON(), nullable=True))
    op.add_column("calls", sa.Column("redacted_audio_blob", sa.String(length=300), nullable=True))
    for table in PERMITTED:
        op.add_column(
            table, sa.Column("sees_sensitive", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    for table in PERMITTED:
        op.drop_column(table, "sees_sensitive")
    op.drop_column("calls", "redacted_audio_blob")
    op.drop_column("calls", "redaction")
    for table, column in ORIGINALS:
        op.drop_column(table, column)
