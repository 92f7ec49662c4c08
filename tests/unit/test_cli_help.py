"""What `--help` shows a newcomer in a terminal of the default 80 columns."""

from __future__ import annotations

import inspect
import itertools
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from callsense.cli.main import app

COLUMNS = 80


@pytest.mark.parametrize("group", [[], *([group.name] for group in app.registered_groups)])
def test_a_command_list_fills_its_lines(group: list[str]) -> None:
    """Each summary wraps at the terminal's edge, not at its docstring's line breaks (those left lines
    half empty, then a few words on a line of their own)."""
    shown = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": str(COLUMNS)})
    assert shown.exit_code == 0, shown.output
    panel = shown.output.split("Commands ")[1].splitlines()[1:-1]
    width = len(panel[0]) - 3  # inside the borders and the padding on the right
    rows = [line.strip("│").rstrip() for line in panel]
    for row, following in itertools.pairwise(rows):
        if following.startswith(" " * 3):  # the next line goes on with this command's summary
            next_word = following.split()[0]
            assert len(row) + 1 + len(next_word) > width, f"a line wrapped early:\n{row}\n{following}"


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


@pytest.mark.parametrize(
    ("path", "command"),
    list(_commands(typer.main.get_command(app), [])),
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_a_commands_help_paragraphs_fill_their_lines(path: list[str], command: Any) -> None:
    """Typer keeps a docstring's line breaks after its first paragraph, so a paragraph wrapped in the
    source showed a few words on a line of their own (`callsense ask --help`: "is stored.")."""
    paragraphs = inspect.cleandoc(command.help or "").split("\n\n")[1:]
    assert [paragraph for paragraph in paragraphs if "\n" in paragraph] == []


def test_python_dash_m_runs_the_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "callsense", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Usage: callsense" in shown.stdout and "process" in shown.stdout
