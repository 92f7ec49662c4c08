"""``callsense ask``: a question about one stored call, answered from its transcript with checked quotes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from callsense.cli import common


def ask(
    call_id: Annotated[str, typer.Argument(help="The call's id.")],
    question: Annotated[str, typer.Argument(help='The question, e.g. "did the agent offer a refund?"')],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the answer and the supporting turns as JSON.")
    ] = False,
) -> None:
    """Ask the LLM about a stored call: the answer, and the turns that support it with their times.

    Quotes not found in the transcript are never shown; without one the answer says it is not supported.

    Asking is audited: an 'asked' event by 'cli:' and your user name.

    Neither the question nor the answer is stored.
    """
    from pydantic import TypeAdapter, ValidationError

    from callsense.pipeline import ask as asking
    from callsense.web.call_view import clock

    try:
        checked = TypeAdapter(asking.QuestionText).validate_python(question)
    except ValidationError:
        common.err.print(
            f"[bold red]error:[/] the question must be 1 to {asking.QUESTION_MAX_CHARS} characters",
            highlight=False,
        )
        raise typer.Exit(common.EXIT_PERMANENT) from None
    with common.runtime() as rt:
        result = asking.ask_about_call(rt, call_id=call_id, question=checked, actor=common.actor(), via="cli")
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    common.out.print(result.answer, highlight=False, soft_wrap=True)
    if result.supporting_turns:
        table = Table("turn", "time", "speaker", "quote")
        for turn in result.supporting_turns:
            table.add_row(str(turn.turn), clock(turn.start), turn.speaker, turn.quote)
        common.out.print(table)
    if result.dropped_quotes:
        common.err.print(f"{result.dropped_quotes} quote(s) not found in the transcript were dropped")
