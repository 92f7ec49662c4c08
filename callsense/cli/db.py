"""``callsense db``: the schema revision of the database, and the explicit upgrade to this version's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from callsense.cli import common

if TYPE_CHECKING:
    from callsense.db import Database

app = typer.Typer(
    help="The database schema: which revision it is at, and upgrading it to this version's.",
    no_args_is_help=True,
)


@app.command("status")
def db_status() -> None:
    """Print the database's schema revision and this callsense's; exit 1 if callsense would not start."""
    from callsense import db

    stalled_after_s = common.settings().queue.stalled_after_s
    with common.database(check=False) as database:
        status = db.schema_status(database.engine)
        behind = status.known and status.current is not None and not status.up_to_date
        workers = db.running_workers(database.engine, stalled_after_s=stalled_after_s) if behind else 0
    common.out.print(f"database:  {database.url_for_display}")
    common.out.print(f"schema:    {status.current or 'none (empty database)'}")
    common.out.print(f"callsense: {status.head}")
    if workers:
        common.out.print(
            f"processes: {workers} running on it ('serve' or 'worker' of an older callsense): stop them "
            "before upgrading",
            soft_wrap=True,
        )
    problem = status.problem()
    if status.up_to_date:
        common.out.print("up to date")
    elif status.current is None:
        common.out.print("empty: the first start creates the schema")
    elif database.embedded is not None and status.known and not workers:
        common.out.print("older: the next start upgrades it (the embedded PostgreSQL is upgraded on open)")
    elif problem is not None:
        common.err.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(common.EXIT_PERMANENT)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to this version's (run it once, after stopping the old version's processes)."""
    from callsense import db

    stalled_after_s = common.settings().queue.stalled_after_s
    with common.database(check=False) as database:
        before = db.upgrade(database.engine, stalled_after_s=stalled_after_s)
        conversion = pending_conversion(database)
    if before.up_to_date:
        common.out.print(f"schema already at {before.head}")
    else:
        common.out.print(f"schema upgraded from {before.current or 'none'} to {before.head}")
    if conversion is not None:
        common.out.print(f"next: {conversion}")


def pending_conversion(database: Database) -> str | None:
    """What an upgrade left for 'keys migrate-envelope', as one line; None when nothing is left."""
    from callsense.security import rotation

    with database.transaction() as session:
        marked = rotation.count_marked(session)
    if not marked:
        return None
    return (
        f"{marked} call(s) stored in an older format wait for 'callsense keys migrate-envelope' "
        "(run it once; the service may run meanwhile)"
    )
