"""``callsense keys``: the encryption key ring."""

from __future__ import annotations

from typing import Annotated

import typer

from callsense.cli import common

app = typer.Typer(help="Manage the encryption key ring.", no_args_is_help=True)


@app.command("rotate")
def keys_rotate(
    retire_old: Annotated[
        bool, typer.Option(help="Delete the old keys once everything is re-encrypted.")
    ] = False,
) -> None:
    """Make a new active key and re-encrypt every stored ciphertext (database and audio) under it."""
    from callsense.security import rotation

    with common.runtime() as rt:
        report = rotation.rotate(rt, retire_old=retire_old)
    common.out.print(
        f"active key {report.new_key}: re-encrypted {report.rows} database values and {report.blobs} blobs"
    )
    if report.retired:
        common.out.print(f"retired keys: {', '.join(sorted(report.retired))}")
