"""``callsense sources``: the configured recording sources, a check of each folder, one poll by hand, and
taking given-up files again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callsense.cli import common

if TYPE_CHECKING:
    from callsense.config.sources import AnySource

SourceName = Annotated[str, typer.Argument(help="The source's name (see `callsense sources list`).")]
app = typer.Typer(
    help="Recording sources (folders, NAS shares, S3 buckets, REST APIs) the workers poll: list them, test "
    "one, poll one now, take given-up files again. Configured in the settings' sources.folders, sources.s3 "
    "and sources.rest; see docs/sources.md.",
    no_args_is_help=True,
)


@app.command("list")
def list_sources() -> None:
    """Show each source: where it reads, its preset and schedule, and what its last poll found (and when
    the next may be, when its API asked to wait)."""
    from callsense.calls import source_files
    from callsense.config.sources import FileSourceSettings

    configured = common.settings().sources.all()
    if not configured:
        common.out.print("no sources configured (sources.folders, sources.s3, sources.rest; docs/sources.md)")
        return
    with common.database() as db, db.transaction() as session:
        status = source_files.statuses(session=session)
        given_up = source_files.given_up(session=session)
        held = source_files.held(session=session)
    columns = ("name", "reads", "preset", "poll", "last poll", "seen", "ingested", "refused", "given up")
    table = Table(*columns, "last error")
    for source in configured:
        row = status.get(source.name)
        preset = source.preset if isinstance(source, FileSourceSettings) else None
        table.add_row(
            source.name + ("" if source.enabled else " (disabled)"),
            escape(source.reads),
            preset.value if preset else "",
            source.poll_cron,
            (common.when(row.last_poll_at) if row and row.last_poll_at else "never")
            + (f" (next not before {common.when(held[source.name])})" if source.name in held else ""),
            str(row.files_seen) if row else "",
            str(row.ingested) if row else "",
            str(row.refused) if row else "",
            str(given_up.get(source.name, "")),
            f"{common.when(row.last_error_at)} {escape(row.last_error)}" if row and row.last_error else "",
        )
    common.out.print(table)


@app.command("test")
def test(name: SourceName) -> None:
    """Check the source without taking anything. A folder: it exists, can be read, and can be written when
    files are moved or deleted after ingest; the recordings it holds are counted. An S3 bucket: the
    credentials are accepted, the bucket exists, its recordings are counted. A REST source: its first page
    is read and its items mapped."""
    from callsense.backends.recordings import sources
    from callsense.backends.recordings.http import FetchOptions
    from callsense.backends.recordings.sources.rest import RestSource
    from callsense.backends.recordings.sources.s3 import S3Source
    from callsense.config.sources import RestSourceSettings, S3SourceSettings
    from callsense.errors import CallsenseError

    settings = common.settings()
    source = _named(settings.sources.named(name), name)
    checks: list[sources.Check] = []
    try:
        if isinstance(source, RestSourceSettings):
            page = RestSource(source, FetchOptions.from_settings(settings)).page(source.start_cursor)
            refused = sum(1 for item in page.items if item.recording is None)
            detail = f"{len(page.items)} recording(s) on the first page, {refused} refused"
            checks.append(sources.Check("listing", True, detail))
        elif isinstance(source, S3SourceSettings):
            checks = S3Source(source).check()
        else:
            checks = sources.check_folder(source)
            if all(check.ok for check in checks):
                found = sum(1 for _ in sources.FolderSource(source).scan())
                checks.append(sources.Check("recordings", True, f"{found} file(s) match {source.glob}"))
    except CallsenseError as exc:
        checks.append(sources.Check("listing", False, str(exc)))
    table = Table("check", "result", "detail")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", escape(check.detail))
    common.out.print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(common.EXIT_PERMANENT)


@app.command("poll")
def poll(name: SourceName) -> None:
    """Poll the source once, here. A folder or an S3 bucket: take each complete file, store its audio and
    queue its transcription. A REST source: register each new call and queue its download. A running
    `callsense serve` or `callsense worker` does the rest."""
    from callsense.pipeline import tasks

    with common.runtime() as rt:
        _named(rt.settings.sources.named(name), name)
        jobs_app = tasks.build_app(rt)
        columns = (TextColumn(f"{name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with jobs_app.open(), Progress(*columns, console=common.err, transient=True) as progress:
            bar = progress.add_task("poll", total=None)
            report = tasks.poll_source_now(
                rt,
                jobs_app,
                name,
                on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
            )
    common.out.print(
        f"{name}: {report.seen} seen, {len(report.fetched) + len(report.registered)} taken, "
        f"{report.waiting} not complete yet, "
        f"{report.refused} refused, {report.failed} to try again, {report.left} left for the next poll"
        + (f", {report.given_up} given up" if report.given_up else "")
        + (f", {report.duplicates} copies of calls taken skipped" if report.duplicates else "")
    )
    if report.error:
        common.err.print(
            f"[bold red]last problem:[/] {escape(report.error)}", highlight=False, soft_wrap=True
        )
    if report.held_until is not None:
        common.err.print(f"not polled again before {common.when(report.held_until)}: its API asked to wait")
    if (report.error or report.held_until) and not report.seen:  # the source itself could not be listed
        raise typer.Exit(common.EXIT_RETRYABLE)


@app.command("retry")
def retry(
    name: SourceName,
    paths: Annotated[
        list[str] | None, typer.Argument(help="The given-up files to take again (default: all of them).")
    ] = None,
) -> None:
    """Take the source's given-up files again at its next poll: those whose takes ended with no outcome
    max_attempts times in a row (the poller killed, out of memory, or an unexpected error; `sources list`
    counts them, the audit trail says why). Each is counted afresh; audited."""
    from callsense.calls import service as calls
    from callsense.calls import source_files

    _named(common.settings().sources.named(name), name)
    with common.database() as db, db.transaction() as session:
        retried = source_files.retry_given_up(session=session, source=name, keys=paths or None)
        if retried:
            calls.add_event(
                session=session,
                call_pk=None,
                stage="source",
                kind="retry",
                detail=f"{name}: {len(retried)} given-up file(s) taken again at the next poll",
                actor=common.actor(),
            )
    for path in retried:
        common.out.print(escape(path), highlight=False)
    common.out.print(f"{name}: {len(retried)} given-up file(s) taken again at the next poll")


def _named(found: AnySource | None, name: str) -> AnySource:
    if found is None:
        common.err.print(
            f"[bold red]error:[/] no source named '{escape(name)}' (see `callsense sources list`)"
        )
        raise typer.Exit(common.EXIT_PERMANENT)
    return found
