"""``callsense keys``: the encryption key ring, and each call's data key it wraps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from callsense.cli import common

if TYPE_CHECKING:
    from callsense.security.rotation import Progress, RotationReport

app = typer.Typer(help="Manage the encryption key ring.", no_args_is_help=True)


@app.command("rotate")
def keys_rotate(
    retire_old: Annotated[
        bool, typer.Option(help="Delete the old keys once nothing is left under them.")
    ] = False,
) -> None:
    """Make a new active key and re-wrap every call's data key under it (no recording or column is rewritten);
    what 'migrate-envelope' converts and has not yet converted is converted on the way."""
    from callsense.security import rotation

    with common.runtime() as rt, _progress_bar() as progress:
        report = rotation.rotate(rt, retire_old=retire_old, progress=progress)
    common.out.print(f"active key {report.new_key}: re-wrapped {report.data_keys} data keys")
    _print_migrated(report)
    if report.retired:
        common.out.print(f"retired keys: {', '.join(sorted(report.retired))}")


@app.command("migrate-envelope")
def keys_migrate_envelope() -> None:
    """Convert what older versions stored to the current format, in place: what was encrypted before
    envelope encryption (under a ring key directly) goes under each call's own data key, and recordings
    sealed whole (before segments) are sealed again in segments, so they are read a segment at a time. In
    batches of calls, with progress; safe to interrupt and run again (what is current is skipped); running
    services go on."""
    from callsense.security import rotation

    with common.runtime() as rt, _progress_bar() as progress:
        report = rotation.migrate_envelope(rt, progress=progress)
    _print_migrated(report)


def _print_migrated(report: RotationReport) -> None:
    common.out.print(
        f"checked {report.calls} calls: moved {report.rows} database values and {report.blobs} recordings "
        f"under their call's data key; sealed {report.segmented} more recordings in segments"
    )
    if report.missing_blobs:
        common.out.print(f"{report.missing_blobs} recordings named by calls are not in the blob store")


@contextmanager
def _progress_bar() -> Iterator[Progress]:
    from rich.progress import Progress as Bar

    with Bar(console=common.err, transient=False) as bar:
        task = bar.add_task("calls", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress
