"""What every ``callsense`` command shares: the consoles, exit codes, settings, the database or the runtime.

Errors end as one line on stderr and a non-zero exit code. The heavier modules (the database, the pipeline)
are imported inside the functions, so that ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from callsense.config import Settings, load_settings
from callsense.errors import CallsenseError

if TYPE_CHECKING:
    from callsense.db import Database
    from callsense.runtime import Runtime

EXIT_PERMANENT = 1
EXIT_RETRYABLE = 75  # EX_TEMPFAIL: a later attempt may succeed
EXIT_INTERRUPTED = 130  # the shells' code for a command stopped by Ctrl-C (128 + SIGINT)

err = Console(stderr=True)
# Piped output is not wrapped at 80 columns, so tables stay greppable.
out = Console(width=None if sys.stdout.isatty() else 220)


def actor() -> str:
    """Who acts from the command line, for the audit trail: ``cli:`` and the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn a ``CallsenseError`` into its one line on stderr and the exit code that says whether to retry."""
    try:
        yield
    except CallsenseError as exc:
        # escaped: messages quote paths, names and ids, whose brackets rich would read as markup
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_RETRYABLE if exc.retryable else EXIT_PERMANENT) from None


def settings() -> Settings:
    """The settings, with logging configured by them."""
    from callsense import logs

    with errors_as_exit():
        loaded = load_settings()
    logs.configure(level=loaded.log_level, json_lines=loaded.log_json)
    return loaded


@contextmanager
def database(*, check: bool = True) -> Iterator[Database]:
    """The database alone, for commands that need no keys and no models; errors end as exit codes.

    ``check=False`` skips the schema check, for the commands that inspect or change the schema itself."""
    from callsense.db import open_database

    loaded = settings()
    with errors_as_exit():
        db = open_database(loaded, check=check)
        try:
            yield db
        finally:
            db.close()


@contextmanager
def runtime() -> Iterator[Runtime]:
    """The runtime, closed on the way out; errors inside the block end as exit codes."""
    from callsense.runtime import open_runtime

    loaded = settings()
    with errors_as_exit():
        rt = open_runtime(loaded)
        try:
            yield rt
        finally:
            rt.db.close()


def warn_of_kept_erasures(loaded: Settings) -> None:
    """Log that a restore stopped before it erased again what it kept (``backup.erasures``): a service that
    starts anyway may serve calls erased on request. The service starts all the same."""
    import structlog

    from callsense.backup.erasures import pending_warning

    try:
        warning = pending_warning(loaded)
    except CallsenseError as exc:
        warning = str(exc)
    if warning is not None:
        structlog.get_logger(__name__).warning(warning)


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""
