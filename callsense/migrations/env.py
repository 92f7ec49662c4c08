"""Alembic environment: runs on the connection that callsense.db.upgrade hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from callsense.calls import search as _search  # noqa: F401  (registers the search index table)
from callsense.calls import users as _users  # noqa: F401  (registers the dashboard's tables)
from callsense.calls.models import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
