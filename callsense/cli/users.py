"""``callsense users``: the people who sign in to the dashboard (roles as for API tokens)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from callsense.cli import common
from callsense.security.tokens import Role

app = typer.Typer(help="Manage dashboard users (roles: viewer, analyst, admin).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    """From standard input (scripts) or asked twice without echo (people)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input instead of asking.")
]


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[Role, typer.Option(help="viewer, analyst or admin.")] = Role.viewer,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user; the password is stored as an argon2id hash only."""
    from callsense.web import accounts

    password = _password(password_stdin)
    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        accounts.create_user(session=session, username=username, role=role, password=password)
    common.out.print(f"created {username} ({role.value})")


@app.command("list")
def list_users() -> None:
    """List users: name, role, sensitive data, created, last sign-in, disabled."""
    from callsense.web import accounts

    table = Table("name", "role", "sensitive data", "created", "last sign-in", "disabled")
    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        for user in accounts.all_users(session=session):
            table.add_row(
                user.username,
                user.role,
                "yes" if user.sees_sensitive else "",
                common.when(user.created_at),
                common.when(user.last_sign_in_at),
                common.when(user.disabled_at),
            )
    common.out.print(table)


@app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument(help="The user's name.")], password_stdin: PasswordStdin = False
) -> None:
    """Change a password; the user's open sessions end."""
    from callsense.web import accounts

    password = _password(password_stdin)
    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        accounts.set_password(session=session, username=username, password=password)
    common.out.print(f"password of {username} changed")


@app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[Role, typer.Argument(help="viewer, analyst or admin.")],
) -> None:
    """Change a user's role (takes effect on their next page); a viewer loses the permission to view
    sensitive data, which a later role does not bring back."""
    from callsense.web import accounts

    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        accounts.set_role(session=session, username=username, role=role)
    common.out.print(f"{username} is now {role.value}")


@app.command("sensitive")
def sensitive(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    allow: Annotated[
        bool, typer.Option("--allow/--deny", help="Grant (--allow) or withdraw (--deny) the permission.")
    ] = True,
) -> None:
    """Grant or withdraw the permission to view sensitive data: the original of redacted text and audio,
    behind the call page's "Show sensitive data" (each use audited). Needs the analyst or admin role."""
    from callsense.web import accounts

    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        accounts.set_sensitive(session=session, username=username, allowed=allow)
    common.out.print(f"{username} {'may' if allow else 'may not'} view sensitive data")


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Disable a user at once: they cannot sign in and their sessions end."""
    from callsense.web import accounts

    with common.errors_as_exit(), common.database() as db, db.transaction() as session:
        accounts.disable(session=session, username=username)
    common.out.print(f"disabled {username}")
