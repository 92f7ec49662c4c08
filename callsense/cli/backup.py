"""``callsense backup``: make, check and restore backups of the database, the recordings and the key ring."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import track

from callsense.cli import common
from callsense.config import BACKUP_PASSPHRASE_VARIABLE

app = typer.Typer(
    help="Back up and restore the database, the recordings and the key ring.", no_args_is_help=True
)

T = TypeVar("T")

PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        help="The key ring passphrase is this file's first line "
        f"(else ${BACKUP_PASSPHRASE_VARIABLE}, else a prompt).",
        dir_okay=False,
    ),
]
PgBin = Annotated[
    Path | None,
    typer.Option(
        help="Directory of the pg_dump / pg_restore to use (default: one of the server's version).",
        file_okay=False,
    ),
]


class TerminalProgress:
    """Progress on stderr: a line before and after each long step, bars for the many-file ones."""

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        started = time.monotonic()
        with common.err.status(label):
            yield
        common.err.print(
            f"{label}: done in {time.monotonic() - started:.1f} s", highlight=False, soft_wrap=True
        )

    def track(self, items: Iterable[T], *, total: int, label: str) -> Iterable[T]:
        return track(items, total=total, description=f"{label:<12}", console=common.err, transient=False)

    def note(self, message: str) -> None:
        common.err.print(message, highlight=False, soft_wrap=True)


def _passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        try:
            lines = passphrase_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            common.err.print(
                f"[bold red]error:[/] cannot read {passphrase_file}: {exc.strerror}", highlight=False
            )
            raise typer.Exit(common.EXIT_PERMANENT) from None
        return lines[0] if lines else ""
    if BACKUP_PASSPHRASE_VARIABLE in os.environ:
        return os.environ[BACKUP_PASSPHRASE_VARIABLE]
    if not sys.stdin.isatty():  # a timer or cron job: the prompt would end in a bare "Aborted."
        common.err.print(
            "[bold red]error:[/] no passphrase for the key ring, and no terminal to ask for it: set "
            f"{BACKUP_PASSPHRASE_VARIABLE} or give --passphrase-file FILE",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(common.EXIT_PERMANENT)
    return str(typer.prompt("Passphrase for the key ring", hide_input=True, confirmation_prompt=confirm))


@app.command("create")
def backup_create(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) directory to write the backup into.")],
    key_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the key ring in clear to this file, outside DIR, instead of sealing it in DIR."
        ),
    ] = None,
    passphrase_file: PassphraseFile = None,
    pg_bin: PgBin = None,
) -> None:
    """Back up the database (pg_dump), the recordings it names and the key ring, with SHA-256 sums of all.

    The key ring is sealed with a passphrase inside DIR, or written to --key-out; never in clear in DIR."""
    from callsense.backup import archive

    settings = common.settings()
    if key_out is not None and passphrase_file is not None:
        common.err.print("[bold red]error:[/] give --key-out or --passphrase-file, not both", highlight=False)
        raise typer.Exit(common.EXIT_PERMANENT)
    with common.errors_as_exit():  # before the passphrase is asked for a backup that cannot be written
        archive.check_destination(directory)
    passphrase = None if key_out is not None else _passphrase(passphrase_file, confirm=True)
    with common.errors_as_exit():
        done = archive.create(
            settings,
            directory,
            keys=archive.KeyExport(passphrase=passphrase, path=key_out),
            progress=TerminalProgress(),
            pg_bin=pg_bin,
        )
    where = "sealed in the backup" if done.key_ring.kept == "wrapped" else f"in {done.key_ring.file}"
    common.out.print(
        f"backup in {directory}: {done.calls} calls, {done.blobs} recordings, schema {done.schema_revision}; "
        f"key ring ({len(done.key_ring.key_ids)} keys) {where}",
        highlight=False,
    )


@app.command("verify")
def backup_verify(directory: Annotated[Path, typer.Argument(help="The backup directory.")]) -> None:
    """Check every file of a backup against the SHA-256 sums in its manifest."""
    from callsense.backup import manifest

    with common.errors_as_exit():
        found = manifest.read(directory)
        manifest.verify(
            directory, TerminalProgress().track(found.files, total=len(found.files), label="checking"), found
        )
    common.out.print(
        f"backup in {directory} is intact: {len(found.files)} files, made {common.when(found.created_at)}"
    )


@app.command("restore")
def backup_restore(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="The key ring written by 'backup create --key-out' (or any copy of the key file).",
            dir_okay=False,
        ),
    ] = None,
    passphrase_file: PassphraseFile = None,
    force: Annotated[
        bool, typer.Option(help="Replace the contents of a database that is not empty.")
    ] = False,
    pg_bin: PgBin = None,
) -> None:
    """Check a backup's sums, then restore its database, recordings and key ring (added to the key file).

    Refuses a damaged backup, a wrong passphrase, and a database that is not empty unless --force."""
    from callsense.backup import archive, manifest

    settings = common.settings()
    with common.errors_as_exit():
        sealed = manifest.read(directory).key_ring.kept == "wrapped"
    passphrase = _passphrase(passphrase_file, confirm=False) if sealed and key_file is None else None
    with common.errors_as_exit():
        done = archive.restore(
            settings,
            directory,
            passphrase=passphrase,
            key_file=key_file,
            force=force,
            progress=TerminalProgress(),
            pg_bin=pg_bin,
        )
    common.out.print(
        f"restored {done.calls} calls and {done.blobs} recordings (schema {done.schema_revision}); "
        f"key ring ({len(done.key_ring.key_ids)} keys) in {settings.resolved_key_file}",
        highlight=False,
    )
    common.out.print(
        "next: 'callsense db status' (and 'callsense db upgrade' if it says so), then start the services"
    )
