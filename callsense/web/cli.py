"""``callsense users``: the people who sign in to the dashboard (roles as for API tokens)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from callsense.security.tokens import Role

users_app = typer.Typer(help="Manage dashboard users (roles: viewer, analyst, admin).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    """From standard input (scripts) or asked twice without echo (people)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input instead of asking.")
]


@users_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[Role, typer.Option(help="viewer, analyst or admin.")] = Role.viewer,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user; the password is stored as an argon2id hash only."""
    from callsense.cli import _database, _errors_as_exit, out
    from callsense.web import accounts

    password = _password(password_stdin)
    with _errors_as_exit(), _database() as db, db.transaction() as session:
        accounts.create_user(session=session, username=username, role=role, password=password)
    out.print(f"created {username} ({role.value})")


@users_app.command("list")
def list_users() -> None:
    """List users: name, role, created, last sign-in, disabled."""
    from callsense.cli import _database, _errors_as_exit, _when, out
    from callsense.web import accounts

    table = Table("name", "role", "created", "last sign-in", "disabled")
    with _errors_as_exit(), _database() as db, db.transaction() as session:
        for user in accounts.all_users(session=session):
            table.add_row(
                user.username,
                user.role,
                _when(user.created_at),
                _when(user.last_sign_in_at),
                _when(user.disabled_at),
            )
    out.print(table)


@users_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument(help="The user's name.")], password_stdin: PasswordStdin = False
) -> None:
    """Change a password; the user's open sessions end."""
    from callsense.cli import _database, _errors_as_exit, out
    from callsense.web import accounts

    password = _password(password_stdin)
    with _errors_as_exit(), _database() as db, db.transaction() as session:
        accounts.set_password(session=session, username=username, password=password)
    out.print(f"password of {username} changed")


@users_app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[Role, typer.Argument(help="viewer, analyst or admin.")],
) -> None:
    """Change a user's role (takes effect on their next page)."""
    from callsense.cli import _database, _errors_as_exit, out
    from callsense.web import accounts

    with _errors_as_exit(), _database() as db, db.transaction() as session:
        accounts.set_role(session=session, username=username, role=role)
    out.print(f"{username} is now {role.value}")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Disable a user at once: they cannot sign in and their sessions end."""
    from callsense.cli import _database, _errors_as_exit, out
    from callsense.web import accounts

    with _errors_as_exit(), _database() as db, db.transaction() as session:
        accounts.disable(session=session, username=username)
    out.print(f"disabled {username}")


search_app = typer.Typer(help="The dashboard's full-text search index.", no_args_is_help=True)


@search_app.command("backfill")
def search_backfill() -> None:
    """Index calls stored before the search index existed (decrypts their text; safe to run again)."""
    from callsense.cli import _errors_as_exit, _settings, out
    from callsense.runtime import open_runtime
    from callsense.web.search_backfill import backfill

    with _errors_as_exit():
        rt = open_runtime(_settings())
        try:
            count = backfill(db=rt.db, keyring=rt.keyring)
        finally:
            rt.db.close()
    out.print(f"indexed {count} call{'' if count == 1 else 's'}")
