"""``callsense search``: the dashboard's full-text search index."""

from __future__ import annotations

from typing import Annotated

import typer

from callsense.cli import common

app = typer.Typer(help="The dashboard's full-text search index.", no_args_is_help=True)


@app.command("backfill")
def search_backfill(
    again: Annotated[
        bool, typer.Option("--all", help="Index every call again, not only those without an index row.")
    ] = False,
) -> None:
    """Index calls stored before the search index existed (decrypts their text; safe to run again)."""
    from callsense.web.search_backfill import backfill

    with common.runtime() as rt:
        count = backfill(db=rt.db, keyring=rt.keyring, again=again)
    common.out.print(f"indexed {count} call{'' if count == 1 else 's'}")
