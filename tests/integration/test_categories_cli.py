"""`callsense categories list | check | reevaluate` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callsense.cli.main import app
from callsense.config import load_settings
from callsense.runtime import open_runtime
from tests.dashboard_seed import SEEDS, seed

CATEGORIES = [{"name": "Refund given", "rule": {"said": "full refund", "speaker": "agent"}}]


def test_categories_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert "no analysed calls yet" in runner.invoke(app, ["categories", "reevaluate"]).output
    rt = open_runtime(load_settings())
    try:
        seed(rt)  # evaluated with no categories
    finally:
        rt.db.close()

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
    singular = tmp_path / "singular.toml"
    singular.write_text('[[category]]\nname = "Long hold"\nrule = { non_talk_s = { above = 60 } }\n')
    misspelt = runner.invoke(app, ["categories", "check", str(singular)], env={"COLUMNS": "200"})
    assert misspelt.exit_code == 1
    assert (
        "has no [[categories]] (it has [[category]]: the tables are named [[categories]])" in misspelt.output
    )


def test_one_call_is_counted_as_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts read as English with a single analysed call (they said "1 of 1 calls wait", "1 calls")."""
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    rt = open_runtime(load_settings())
    try:
        seed(rt, SEEDS[:1])
    finally:
        rt.db.close()
    monkeypatch.setenv("CALLSENSE_CATEGORIES", json.dumps(CATEGORIES))
    runner = CliRunner()
    assert "1 of 1 call waits to be re-evaluated" in runner.invoke(app, ["categories", "list"]).output
    queued = runner.invoke(app, ["categories", "reevaluate", "--no-wait"])
    assert queued.exit_code == 0, queued.output
    assert "1 call to re-evaluate; 1 job queued for the workers" in queued.output
    evaluated = runner.invoke(app, ["categories", "reevaluate", "--here"])
    assert "1 call evaluated with the categories in force" in evaluated.output


def test_checking_a_settings_file_reads_its_own_taxonomy(tmp_path: Path) -> None:
    """A new label and a category on it, added together to the settings file about to be deployed: the
    check reads that file's taxonomy, not the one in force (the default, without 'Roaming')."""
    new = tmp_path / "callsense.toml"
    taxonomy = (
        '[[analysis.topics]]\nlabel = "Roaming"\ndescription = "using the phone abroad"\n'
        '[[analysis.topics]]\nlabel = "Other"\ndescription = "none of these"\n'
    )
    new.write_text(
        taxonomy + '[[categories]]\nname = "Roaming calls"\nrule = { topic = "Roaming" }\n', encoding="utf-8"
    )
    runner = CliRunner()
    checked = runner.invoke(app, ["categories", "check", str(new)])
    assert checked.exit_code == 0, checked.output
    assert "ok Roaming calls: topic is 'Roaming'" in checked.output

    new.write_text(
        taxonomy + '[[categories]]\nname = "Refunds"\nrule = { topic = "Refund request" }\n', encoding="utf-8"
    )
    refused = runner.invoke(app, ["categories", "check", str(new)])
    assert refused.exit_code == 1  # a default label, gone from this file's taxonomy
    assert (
        "category 'Refunds': topic 'Refund request' is not a taxonomy label (analysis.topics: Other, Roaming)"
        in (refused.output.replace("\n", " "))
    )
    new.write_text(
        '[[analysis.topics]]\nlabel = "Roaming"\n[[categories]]\nname = "X"\nrule = { said = "x" }\n'
    )
    broken = runner.invoke(app, ["categories", "check", str(new)])
    assert broken.exit_code == 1 and "analysis.topics.0: the label 'Roaming' needs a description" in (
        broken.output.replace("\n", " ")
    )
    # --help says so (it said "the taxonomy in force", which this file's check does not use)
    shown = runner.invoke(app, ["categories", "check", "--help"], env={"COLUMNS": "200"})
    assert "The taxonomy is FILE's own [[analysis.topics]] when it lists them, else the one in force." in (
        shown.output
    )
