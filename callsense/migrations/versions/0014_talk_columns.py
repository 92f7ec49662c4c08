"""talk figures as columns: the non-talk seconds, the agent's share of the talk and both speakers'
interruptions, kept by PostgreSQL from the ``talk`` JSON (generated, stored), the two that the call list
filters on indexed. Read out of the JSON, each filter or Insights' per-agent chart parsed every call's
figures: 0.4 s a query at 100,000 calls.

Adding the columns rewrites the calls table once (a few seconds per million calls).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# As the model declares them (calls/models.py TALK_FIGURES), frozen here as this revision made them.
COLUMNS = {
    "non_talk_seconds": "double precision generated always as"
    " (cast(talk ->> 'non_talk_seconds' as double precision)) stored",
    "agent_talk_share": "double precision generated always as"
    " (cast(talk #>> '{agent,share}' as double precision)) stored",
    "interruptions": "integer generated always as (cast(talk #>> '{agent,interruptions}' as integer)"
    " + cast(talk #>> '{customer,interruptions}' as integer)) stored",
}
INDEXED = ("non_talk_seconds", "interruptions")


def upgrade() -> None:
    # One statement: each generated column added on its own would rewrite the table again.
    op.execute(
        "alter table calls " + ", ".join(f"add column {name} {kind}" for name, kind in COLUMNS.items())
    )
    for name in INDEXED:
        op.create_index(op.f(f"ix_calls_{name}"), "calls", [name], unique=False)


def downgrade() -> None:
    for name in reversed(INDEXED):
        op.drop_index(op.f(f"ix_calls_{name}"), table_name="calls")
    op.execute("alter table calls " + ", ".join(f"drop column {name}" for name in reversed(COLUMNS)))
