"""`callsense process` against a real database: what it names a call and what it stores when it fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app
from tests.conftest import AUDIO


@pytest.fixture
def runner(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A command line on a fresh database and data directory, no other setting of the environment."""
    for name in os.environ:
        if name.startswith("CALLSENSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_a_file_name_that_is_no_call_id_gives_one(runner: CliRunner, tmp_path: Path) -> None:
    recording = tmp_path / "Call with Maria (2).wav"
    recording.write_bytes(b"")
    failed = runner.invoke(app, ["process", str(recording)])
    assert failed.exit_code == 1 and failed.stderr == "error: the file is empty\n"
    shown = runner.invoke(app, ["show", "Call-with-Maria-2"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["status_detail"] == "fetch: the file is empty"


def test_a_path_with_no_file_is_refused_before_a_call_is_stored(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "calls").mkdir()
    for path, said in (
        (tmp_path / "nope.wav", f"no such file: {tmp_path / 'nope.wav'}"),
        (tmp_path / "calls", f"{tmp_path / 'calls'} is a directory, not a recording file"),
    ):
        refused = runner.invoke(app, ["process", str(path)])
        assert (refused.exit_code, refused.stderr) == (1, f"error: {said}\n")
    for call_id in ("nope", "calls"):
        shown = runner.invoke(app, ["show", call_id])
        assert shown.exit_code == 1 and shown.stderr == f"error: no call with id '{call_id}'\n"


@pytest.mark.parametrize("log_json", ["false", "true"])
def test_an_unexpected_error_in_a_stage_fails_the_call_in_one_line_with_its_traceback_logged(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, log_json: str
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        said = "my card number is 4111"  # a local of the failing frame: a rich traceback would show it
        raise RuntimeError(f"the decoder crashed after {len(said)} characters")

    monkeypatch.setenv("CALLSENSE_LOG_JSON", log_json)
    monkeypatch.setattr("callsense.pipeline.transcribe.decode", crash)  # after a fetch that went well
    failed = runner.invoke(app, ["process", str(AUDIO / "en_short.mono.flac"), "--quiet"])
    assert failed.exit_code == 75, failed.output  # retryable, as the queue takes it: it runs the job again
    *logged, last = failed.stderr.splitlines()
    assert last == "error: unexpected RuntimeError (the log has where it stopped)"
    traceback = "\n".join(logged)
    assert "Traceback (most recent call last)" in traceback and "in crash" in traceback
    assert "4111" not in traceback
    shown = json.loads(runner.invoke(app, ["show", "en_short"]).stdout)
    assert (shown["status"], shown["status_detail"]) == (
        "failed",
        "transcribe: unexpected RuntimeError (the log has where it stopped)",
    )
    table = runner.invoke(app, ["show", "en_short", "--events"]).stdout
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines() if "│" in line]
    assert [row[1:3] for row in rows if row[1] == "transcribe"] == [
        ["transcribe", "started"],
        ["transcribe", "failed"],
    ]


def test_ctrl_c_keeps_the_stages_done_and_says_how_to_go_on(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("callsense.pipeline.transcribe.decode", interrupted)  # after a fetch that went well
    stopped = runner.invoke(app, ["process", str(AUDIO / "en_short.mono.flac"), "--quiet"])
    assert stopped.exit_code == 130, stopped.output
    assert stopped.stderr.splitlines()[-1] == (
        "interrupted: the stages already done are kept; run the same command again to go on"
    )
    shown = json.loads(runner.invoke(app, ["show", "en_short"]).stdout)
    assert shown["status"] == "fetched"  # the recording stored; the next run starts at transcribe
