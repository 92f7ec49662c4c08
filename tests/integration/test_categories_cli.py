"""`callsense categories list | check | reevaluate` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app
from callsense.config import load_settings
from callsense.runtime import open_runtime
from tests.dashboard_seed import seed

CATEGORIES = [{"name": "Refund given", "rule": {"said": "full refund", "speaker": "agent"}}]


def test_categories_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    rt = open_runtime(load_settings())
    try:
        seed(rt)  # evaluated with no categories
    finally:
        rt.db.close()
    runner = CliRunner()

    assert "No categories" in runner.invoke(app, ["categories", "list"]).output
    monkeypatch.setenv("CALLSENSE_CATEGORIES", json.dumps(CATEGORIES))
    listed = runner.invoke(app, ["categories", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Refund given" in listed.output and "settings" in listed.output
    assert "4 of 4 calls wait to be re-evaluated" in listed.output

    evaluated = runner.invoke(app, ["categories", "reevaluate", "--here"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "4 calls evaluated with the categories in force" in evaluated.output
    assert "all 4 analysed calls are up to date" in runner.invoke(app, ["categories", "reevaluate"]).output
    listed = runner.invoke(app, ["categories", "list"])
    assert "agent said 'full refund'" in listed.output and "wait to be re-evaluated" not in listed.output

    good = tmp_path / "good.toml"
    good.write_text(
        '[[categories]]\nname = "Long hold"\nrule = { non_talk_s = { above = 60 } }\n'
        '[[categories]]\nname = "Cancellation"\nrule = { topic = "Cancellation" }\n',
        encoding="utf-8",
    )
    checked = runner.invoke(app, ["categories", "check", str(good)])
    assert checked.exit_code == 0, checked.output
    assert "ok Long hold: non-talk seconds over 60" in checked.output
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[categories]]\nname = "Refunds"\nrule = { topic = "Refunds" }\n'
        '[[categories]]\nname = "Typo"\nrule = { sayd = "x" }\n',
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["categories", "check", str(bad)])
    assert refused.exit_code == 1
    assert "category 'Refunds': topic 'Refunds' is not a taxonomy label" in refused.output
    assert "category 'Typo': rule: a rule is a table with one of the keys" in refused.output
    empty = tmp_path / "empty.toml"
    empty.write_text("log_level = 'INFO'\n", encoding="utf-8")
    assert "has no [[categories]]" in runner.invoke(app, ["categories", "check", str(empty)]).output
