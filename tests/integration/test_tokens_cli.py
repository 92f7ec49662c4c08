"""`callsense tokens create`: a name the token table cannot hold, or none, is one 'error:' line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_name_that_is_empty_or_too_long_is_refused(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    refused = runner.invoke(app, ["tokens", "create", name, "--role", "viewer"])
    assert refused.exit_code == 1, refused.output
    assert refused.stdout == "" and refused.stderr == "error: a token name needs 1 to 100 characters\n"
    listed = runner.invoke(app, ["tokens", "list"])
    assert listed.exit_code == 0 and "viewer" not in listed.stdout  # nothing was created
