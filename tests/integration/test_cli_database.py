"""A database the command line cannot use: one 'error:' line, and an exit code that says whether to retry."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from callsense.cli.main import app
from tests.servers import free_port


@pytest.fixture(autouse=True)
def no_settings_of_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("CALLSENSE_"):
            monkeypatch.delenv(name)


def show(monkeypatch: pytest.MonkeyPatch, database_url: str) -> tuple[int, str]:
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["show", "abc123"])
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    return result.exit_code, result.stderr


def test_a_database_that_does_not_answer_is_a_temporary_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Down or restarting: a script or a unit tries again later. libpq's hint used to be a second line.
    code, message = show(monkeypatch, f"postgresql://callsense@127.0.0.1:{free_port()}/callsense")
    assert code == 75
    assert message.startswith("error: cannot connect to the database (127.0.0.1:")
    assert "Connection refused Is the server running" in message


def test_a_database_that_refuses_is_a_permanent_error(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    elsewhere = make_url(database_url).set(database="no_such_database")
    code, message = show(monkeypatch, elsewhere.render_as_string(hide_password=False))
    assert code == 1
    assert 'FATAL: database "no_such_database" does not exist' in message
