"""``callsense retention status|purge`` and ``callsense calls hold|release|erase|archived``: the retention
policy, legal holds, erasure on request and the records in the archive (docs/archive.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from callsense.cli import common

if TYPE_CHECKING:
    from callsense.pipeline.retention import PurgeReport
    from callsense.runtime import Runtime

app = typer.Typer(
    help="The retention policy: what it keeps, what a purge would remove, and purging now.",
    no_args_is_help=True,
)
calls_app = typer.Typer(
    help="Legal holds and erasure of one call on request (admin actions, audited); its archived record.",
    no_args_is_help=True,
)

CallIdArgument = Annotated[str, typer.Argument(help="The call's id.")]


def _reason(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("say why (a ticket or case number; no personal data)")
    return value.strip()


ReasonOption = Annotated[
    str,
    typer.Option(
        help="Why: kept in the audit trail (a ticket or case number; no personal data).", callback=_reason
    ),
]


def _days(days: int | None) -> str:
    return "forever" if days is None else f"{days} days"


@app.command()
def status() -> None:
    """Show the rules (default and per source), the last purge, held calls and what a purge would remove."""
    from sqlalchemy import func, select

    from callsense.calls import retention as holds
    from callsense.calls.models import Call
    from callsense.pipeline import retention

    with common.runtime() as rt:
        settings = rt.settings.retention
        rules = Table("calls of", "audio kept", "text kept")
        rules.add_row("default", _days(settings.default.audio_days), _days(settings.default.text_days))
        for name in sorted(settings.sources):
            policy = settings.policy(name)
            rules.add_row(name, _days(policy.audio_days), _days(policy.text_days))
        common.out.print(rules)
        common.out.print(f"purge runs at: {settings.purge_cron} (UTC)" if settings.active else "purge: off")
        with rt.db.transaction() as session:
            last = holds.last_purge(session=session)
            held = session.scalar(select(func.count()).where(Call.legal_hold_at.is_not(None))) or 0
            unfinished = holds.unfinished(session=session)
        common.out.print(f"last purge: {common.when(last.at)} {last.detail}" if last else "last purge: never")
        common.out.print(f"calls under legal hold: {held}")
        if unfinished:
            common.out.print(
                f"calls marked purged that still store their recording or text: {unfinished} "
                "(a purge stopped or failed half way; the next purge deletes it)"
            )
        _print_counts(retention.purge(rt, actor=common.actor(), dry_run=True))


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged, per source; change nothing.")
    ] = False,
) -> None:
    """Purge now what the retention rules say is due (the workers also do it at retention.purge_cron)."""
    from callsense.pipeline import retention

    with common.runtime() as rt:
        _print_counts(retention.purge(rt, actor=common.actor(), dry_run=dry_run))


def _print_counts(report: PurgeReport) -> None:
    verb = "would purge" if report.dry_run else "purged"
    table = Table("source", f"recordings {verb}", f"texts {verb}")
    for name in report.sources:
        table.add_row(name, str(report.audio[name]), str(report.text[name]))
    table.add_row("total", str(sum(report.audio.values())), str(sum(report.text.values())))
    common.out.print(table)


def _set_hold(call_id: str, *, held: bool, reason: str) -> None:
    from callsense.calls import retention

    with common.database() as db, db.transaction() as session:
        hold = retention.set_hold(
            session=session, call_id=call_id, held=held, actor=common.actor(), reason=reason, via="cli"
        )
    if hold.held:
        reason = escape(hold.reason or "")  # free text: its brackets are not markup
        common.out.print(f"{call_id}: under legal hold since {common.when(hold.at)} ({reason})")
        if hold.audio_purged_at is not None:
            common.out.print(f"  its recording was purged before, {common.when(hold.audio_purged_at)}")
        if hold.text_purged_at is not None:
            common.out.print(
                f"  its transcript and analysis were purged before, {common.when(hold.text_purged_at)}"
            )
    else:
        common.out.print(f"{call_id}: legal hold released")


@calls_app.command()
def hold(call_id: CallIdArgument, reason: ReasonOption) -> None:
    """Put a call under legal hold: it is neither purged nor erased until released."""
    _set_hold(call_id, held=True, reason=reason)


@calls_app.command()
def release(call_id: CallIdArgument, reason: ReasonOption) -> None:
    """Release a call's legal hold: the retention policy applies to it again."""
    _set_hold(call_id, held=False, reason=reason)


@calls_app.command()
def erase(
    call_id: CallIdArgument,
    reason: ReasonOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a call for good (a data-subject request): recording, transcript, analysis, search words,
    deliveries and audit trail. One audit event survives: the call id, who, when and why."""
    from callsense.pipeline import erasure

    with common.runtime() as rt:
        # Asked only about a call there is: an unknown or already erased id is answered without a question.
        if not yes and _exists(rt, call_id):
            typer.confirm(f"Erase call {call_id} for good? This cannot be undone.", abort=True)
        done = erasure.erase(rt, call_id=call_id, actor=common.actor(), reason=reason, via="cli")
    if not done.erased_now:
        common.out.print(f"{call_id}: already erased {common.when(done.at)} by {done.by}")
        return
    common.out.print(f"{call_id}: erased")
    for record in done.crm_records:
        common.out.print(f"  filed in a CRM as {escape(record)}: erase it there too")


def _exists(rt: Runtime, call_id: str) -> bool:
    from callsense.calls import retention

    with rt.db.transaction() as session:
        return retention.lock_for_erasure(session=session, call_id=call_id) is not None


@calls_app.command()
def archived(call_id: CallIdArgument) -> None:
    """Print the call's record as kept in the archive (blobs.archive_records), decrypted: JSON, the redacted
    view as it was last written there."""
    import sys

    from callsense.pipeline import record_archive

    with common.runtime() as rt:
        sys.stdout.write(record_archive.read(rt, call_id) + "\n")
