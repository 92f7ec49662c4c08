"""``callsense tokens``: API tokens, of which only the SHA-256 digest is stored."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from callsense.cli import common
from callsense.security.tokens import Role

app = typer.Typer(help="Manage API tokens (roles: viewer, analyst, admin).", no_args_is_help=True)


@app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the token (shown in the audit trail).")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    sensitive: Annotated[
        bool,
        typer.Option(
            "--sensitive",
            help="Grant the permission to view sensitive data: the original of redacted text and audio "
            "(?sensitive=true, each reading audited). Needs analyst or admin.",
        ),
    ] = False,
) -> None:
    """Create a token and print it once; only its SHA-256 digest is stored."""
    from callsense.security import tokens

    with common.errors_as_exit():
        chosen = _role(role)  # before the database starts
        with common.database() as db, db.transaction() as session:
            token = tokens.create(session=session, name=name, role=chosen, sees_sensitive=sensitive)
    sys.stdout.write(token + "\n")


@app.command("list")
def tokens_list() -> None:
    """List tokens: name, role, sensitive data, created, last used, revoked."""
    from callsense.security import tokens

    table = Table("name", "role", "sensitive data", "created", "last used", "revoked")
    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        for row in tokens.all_tokens(session=session):
            table.add_row(
                row.name,
                row.role,
                "yes" if row.sees_sensitive else "",
                common.when(row.created_at),
                common.when(row.last_used_at),
                common.when(row.revoked_at),
            )
    common.out.print(table)


@app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once."""
    from callsense.security import tokens

    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        tokens.revoke(session=session, name=name)
    common.out.print(f"revoked {name}")


def _role(value: str) -> Role:
    from callsense.errors import ConfigError

    try:
        return Role(value)
    except ValueError:
        raise ConfigError(f"unknown role '{value}' (viewer, analyst or admin)") from None
