"""`callsense process` against a real database: what it names a call and what it stores when it fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app


def test_a_file_name_that_is_no_call_id_gives_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith("CALLSENSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    recording = tmp_path / "Call with Maria (2).wav"
    recording.write_bytes(b"")
    runner = CliRunner()
    failed = runner.invoke(app, ["process", str(recording)])
    assert failed.exit_code == 1 and failed.stderr == "error: the file is empty\n"
    shown = runner.invoke(app, ["show", "Call-with-Maria-2"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["status_detail"] == "fetch: the file is empty"
