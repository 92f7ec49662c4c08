"""Recordings in segments: the calls whose recordings may still be sealed whole (version 2, under the call's
data key, written before segments) are marked again for ``callsense keys migrate-envelope``, which seals them
in segments. No column changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The migration reads the first bytes of these calls' recordings once and skips those in segments.
    op.execute(
        "update call_keys set enveloped_at = null where destroyed_at is null and enveloped_at is not null"
        " and call_pk in (select id from calls"
        " where audio_blob is not null or redacted_audio_blob is not null)"
    )


def downgrade() -> None:
    pass  # the marks are only a shortcut: a call left unmarked is checked again, and then marked
