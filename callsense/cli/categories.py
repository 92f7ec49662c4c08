"""``callsense categories``: the call categories in force, checking a file of them, re-evaluating calls."""

from __future__ import annotations

import difflib
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callsense.cli import common
from callsense.config.analysis import AnalysisSettings
from callsense.config.categories import CategoryError, parse_categories

if TYPE_CHECKING:
    from callsense.config import Settings
    from callsense.runtime import Runtime

app = typer.Typer(
    help="Call categories: rules on what was said, sentiment, topic, outcome and talk figures "
    "(docs/analytics.md, Categories). Defined in the settings file (\\[\\[categories]]) or on the "
    "dashboard's Categories page.",
    no_args_is_help=True,
)
POLL_SECONDS = 1.0


@app.command("list")
def list_categories() -> None:
    """Show the categories in force: name, where defined, the rule in words, calls in it."""
    from callsense.calls import categories
    from callsense.calls.categorise import describe

    with common.runtime() as rt, rt.db.transaction() as session:
        found = categories.overview(session=session, configured=rt.settings.categories)
    table = Table("category", "defined in", "rule", "calls")
    for item in found.defined:
        table.add_row(
            item.category.name,
            item.source,
            escape(describe(item.category.rule)),
            str(found.counts.get(item.category.name, 0)),
        )
    empty = "No categories: add [[categories]] to the settings file, or use the dashboard's Categories page"
    common.out.print(table if found.defined else empty, markup=False)
    done = found.progress
    if not done.finished:
        common.out.print(_waiting(done.total - done.done, done.total))


@app.command()
def check(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A TOML file with \\[\\[categories]] tables.")
    ],
) -> None:
    """Validate the categories of a TOML file against the rule language and the taxonomy.

    FILE is the settings file, or a file of categories only; nothing is changed.

    The taxonomy is FILE's own \\[\\[analysis.topics]] when it lists them, else the one in force.

    Exit code 0 lists each category in words; exit code 1 names every problem."""
    from callsense.calls.categorise import describe

    settings = common.settings()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        message = escape(f"{file} is not TOML: {exc}")
        common.err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(common.EXIT_PERMANENT) from None
    if "categories" not in raw:
        # "[[category]]" or "[[Categories]]" read as "no categories" with no word about the misspelt table
        near = difflib.get_close_matches("categories", [key.lower() for key in raw], n=1, cutoff=0.7)
        misspelt = [key for key in raw if near and key.lower() == near[0]]
        hint = f" (it has [[{misspelt[0]}]]: the tables are named [[categories]])" if misspelt else ""
        common.err.print(
            f"[bold red]error:[/] {file} has no {escape('[[categories]]' + hint)}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(common.EXIT_PERMANENT)
    with common.errors_as_exit():
        found = parse_categories(raw["categories"], topics=_taxonomy(file, raw, settings))
    for category in found:
        common.out.print(f"[green]ok[/] {category.name}: {escape(describe(category.rule))}", highlight=False)


def _taxonomy(file: Path, raw: dict[str, Any], settings: Settings) -> set[str]:
    """The labels a topic rule may name: FILE's own ``[[analysis.topics]]`` when it lists them (a settings
    file about to replace the one in force, a new label and its category added together), else those in
    force."""
    section = raw.get("analysis")
    if not isinstance(section, dict) or "topics" not in section:
        return {topic.label for topic in settings.analysis.topics}
    try:
        return {topic.label for topic in AnalysisSettings(topics=section["topics"]).topics}
    except ValidationError as exc:
        problems = "; ".join(
            f"analysis.{'.'.join(map(str, error['loc']))}: "
            + (str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"])
            for error in exc.errors()
        )
        raise CategoryError(f"{file}: {problems}") from None


def _calls(count: int) -> str:
    return "1 call" if count == 1 else f"{count:,} calls"


def _waiting(waiting: int, total: int) -> str:
    verb = "waits" if waiting == 1 else "wait"
    return f"{waiting:,} of {_calls(total)} {verb} to be re-evaluated"


def _up_to_date(total: int) -> str:
    if total == 0:
        return "no analysed calls yet: each is evaluated when its analysis is done"
    if total == 1:
        return "the one analysed call is up to date"
    return f"all {total:,} analysed calls are up to date"


def _queue(rt: Runtime) -> int:
    from callsense.pipeline import categorise, tasks

    jobs_app = tasks.build_app(rt)
    with jobs_app.open():
        return categorise.requeue(rt, lambda first, last: tasks.defer_categorise(jobs_app, first, last))


def _evaluate_here(rt: Runtime) -> None:
    from callsense.pipeline import categorise

    for first, last in categorise.stale_ranges(rt):
        categorise.run_batch(rt, first, last)


@app.command()
def reevaluate(
    wait: Annotated[
        bool, typer.Option(help="Show the progress until every call is done (Ctrl-C stops watching only).")
    ] = True,
    here: Annotated[
        bool, typer.Option(help="Evaluate in this process instead of queueing jobs for the workers.")
    ] = False,
) -> None:
    """Re-evaluate the analysed calls whose categories are stale, from their stored turns and analysis.

    A call is stale when a category was added, changed or removed since it was evaluated. No Whisper, no LLM.

    The dashboard and the workers' reconciler queue this by themselves.

    Run it to watch the progress, or with --here to do it without a worker."""
    from callsense.pipeline import categorise

    with common.runtime() as rt:
        start = categorise.progress(rt)
        if start.finished:
            common.out.print(_up_to_date(start.total))
            return
        if here:
            _evaluate_here(rt)
        else:
            jobs = _queue(rt)
            common.out.print(
                f"{_calls(start.total - start.done)} to re-evaluate; {jobs} job{'' if jobs == 1 else 's'} "
                "queued for the workers (callsense serve or callsense worker --queue categories)"
            )
        if not (wait or here):
            return
        columns = (TextColumn("re-evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=common.out) as bar:
            task = bar.add_task("calls", total=start.total, completed=start.done)
            while True:
                now = categorise.progress(rt)
                bar.update(task, total=now.total, completed=now.done)
                if now.finished:
                    break
                time.sleep(POLL_SECONDS)
        common.out.print(f"{_calls(now.total)} evaluated with the categories in force")
