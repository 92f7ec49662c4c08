"""`callsense users`: create, list, set-role, set-password and disable, against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app
from callsense.config import Settings
from callsense.db import open_database
from callsense.web import accounts


def test_users_are_managed_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, password: str | None = None) -> str:
        result = runner.invoke(app, list(args), input=None if password is None else password + "\n")
        assert result.exit_code == 0, result.output
        return result.output

    run("users", "create", "maria", "--role", "analyst", "--password-stdin", password="first password!")
    short = runner.invoke(app, ["users", "create", "tom", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    duplicate = runner.invoke(app, ["users", "create", "maria", "--password-stdin"], input="x" * 12 + "\n")
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    run("users", "set-role", "maria", "admin")
    # Made a viewer, she loses the permission to view sensitive data for good: made an analyst or admin
    # again later, she does not get it back unless it is granted again.
    run("users", "sensitive", "maria", "--allow")
    assert "viewer" in run("users", "set-role", "maria", "viewer")
    run("users", "set-role", "maria", "admin")
    assert "yes" not in run("users", "list")
    run("users", "set-password", "maria", "--password-stdin", password="second password!")
    assert "maria" in run("users", "list") and "admin" in run("users", "list")

    db = open_database(Settings(database_url=database_url, data_dir=tmp_path))
    try:
        with db.transaction() as session:
            assert (
                accounts.authenticate(session=session, username="maria", password="first password!") is None
            )
            user = accounts.authenticate(session=session, username="maria", password="second password!")
            assert user is not None and user.role == "admin"
        run("users", "disable", "maria")
        with db.transaction() as session:
            assert (
                accounts.authenticate(session=session, username="maria", password="second password!") is None
            )
    finally:
        db.close()
