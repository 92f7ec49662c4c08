"""``python -m callsense``: the ``callsense`` command, where only the interpreter is on PATH."""

from callsense.cli.main import app

app(prog_name="callsense")
