"""``callsense deliveries``: the CRM outbox, its dead letters, and retrying them."""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from callsense.calls import deliveries
from callsense.cli import common

if TYPE_CHECKING:
    from callsense.runtime import Runtime

app = typer.Typer(
    help="Deliveries of analysed calls to CRMs: list, and retry dead ones.", no_args_is_help=True
)


def _requeued(rt: Runtime, ids: list[uuid.UUID], *, now: bool) -> None:
    """Queue the jobs (a worker sends them), or with ``now`` make one attempt each in this process."""
    from callsense.errors import CRMUnavailableError
    from callsense.pipeline import deliver, tasks

    if now:
        for delivery_id in ids:
            # A retryable failure is recorded on the row; a worker's reconcile picks the row up again.
            with contextlib.suppress(CRMUnavailableError):
                deliver.run(rt, delivery_id)
            with rt.db.transaction() as session:
                row = deliveries.view(session=session, delivery_id=delivery_id)
            common.out.print(f"{delivery_id} {row.destination}: {row.status} {row.last_error or ''}".rstrip())
        return
    jobs_app = tasks.build_app(rt)
    with jobs_app.open():
        for delivery_id in ids:
            tasks.defer_delivery(jobs_app, delivery_id)
    common.out.print(f"queued {len(ids)} deliver{'y' if len(ids) == 1 else 'ies'}")


@app.command("list")
def list_deliveries(
    status: Annotated[
        str | None, typer.Option(help="Only this status: pending, delivered, skipped or dead.")
    ] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most rows shown, newest first.")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show deliveries: destination, status, attempts, the CRM's id or its last error."""
    from callsense.errors import ConfigError

    chosen = None
    if status is not None:
        with common.errors_as_exit():
            try:
                chosen = deliveries.DeliveryStatus(status)
            except ValueError:
                known = ", ".join(deliveries.DeliveryStatus)
                raise ConfigError(f"unknown status '{status}' ({known})") from None
    with common.runtime() as rt, rt.db.transaction() as session:
        deliveries.check_listed(session=session, destination=destination, settings=rt.settings.deliveries)
        rows = deliveries.views(session=session, status=chosen, destination=destination, limit=limit)
    if json_out:
        for row in rows:
            sys.stdout.write(json.dumps(row.__dict__, default=str) + "\n")
        return
    table = Table(
        "id", "call", "destination", "status", "attempts", "http", "crm id", "next try", "last error"
    )
    for row in rows:
        table.add_row(
            str(row.id),
            row.call_id,
            row.destination,
            row.status,
            str(row.attempts),
            str(row.response_status or ""),
            row.external_id or "",
            common.when(row.next_attempt_at),
            row.last_error or "",
        )
    common.out.print(table)


@app.command("retry")
def retry(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id (from `callsense deliveries list`).")],
    now: Annotated[bool, typer.Option(help="Make the attempt in this process and show the outcome.")] = False,
) -> None:
    """Put a dead or skipped delivery back in the outbox (its retry age starts again) and queue it."""
    from callsense.errors import NotFoundError

    with common.errors_as_exit():
        try:
            key = uuid.UUID(delivery_id)
        except ValueError:
            raise NotFoundError(f"'{delivery_id}' is not a delivery id") from None
    with common.runtime() as rt:
        with rt.db.transaction() as session:
            row = deliveries.requeue(session=session, delivery_id=key, actor="cli")
            if row.status == deliveries.DeliveryStatus.delivered:
                common.out.print(f"{key} was already delivered ({row.external_id})")
                return
        _requeued(rt, [key], now=now)


@app.command("retry-all")
def retry_all(
    destination: Annotated[str | None, typer.Option(help="Only dead deliveries to this destination.")] = None,
    now: Annotated[
        bool, typer.Option(help="Make the attempts in this process and show the outcomes.")
    ] = False,
) -> None:
    """Put every dead delivery (of one destination, or all) back in the outbox and queue them."""
    with common.runtime() as rt:
        # Not a name the outbox holds: a removed destination's rows cannot be sent.
        rt.settings.deliveries.check_configured(destination)
        with rt.db.transaction() as session:
            ids = deliveries.requeue_dead(session=session, actor="cli", destination=destination)
        _requeued(rt, ids, now=now)
