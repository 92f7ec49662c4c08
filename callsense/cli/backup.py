"""``callsense backup``: make, check and restore backups of the database, the recordings and the key ring."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.progress import track

from callsense.cli import common
from callsense.config import BACKUP_PASSPHRASE_VARIABLE

if TYPE_CHECKING:
    from callsense.backup.manifest import Manifest
    from callsense.config import Settings

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
KeyFile = Annotated[
    Path | None,
    typer.Option(
        help="The key ring written by 'backup create --key-out' (or any copy of the key file).",
        dir_okay=False,
    ),
]
AcceptUnsealed = Annotated[
    bool,
    typer.Option(
        help="Take a backup made before manifests were sealed (format callsense-backup-1), checked by its "
        "sums alone: only one kept where no one could alter it."
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
        common.err.print(message, highlight=False, soft_wrap=True, markup=False)  # call ids are anyone's text


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


def _backup_passphrase(directory: Path, *, key_file: Path | None, passphrase_file: Path | None) -> str | None:
    """The passphrase of the key ring sealed in the backup, unless ``key_file`` gives the ring."""
    from callsense.backup import manifest

    with common.errors_as_exit():
        sealed = manifest.read(directory).key_ring.kept == "wrapped"
    return _passphrase(passphrase_file, confirm=False) if sealed and key_file is None else None


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

    The key ring is sealed with a passphrase inside DIR, or written to --key-out; never in clear in DIR.

    The manifest of sums is sealed by the key ring. A backup that fails midway is removed.

    Exit codes: 0 done, 1 refused or failed, 75 the database is unreachable (try again later).
    """
    from callsense.backup import archive, destination

    settings = common.settings()
    if key_out is not None and passphrase_file is not None:
        common.err.print("[bold red]error:[/] give --key-out or --passphrase-file, not both", highlight=False)
        raise typer.Exit(common.EXIT_PERMANENT)
    with common.errors_as_exit():  # before the passphrase is asked for a backup that cannot be written
        destination.check(directory)
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
    _print_missing(directory, done)


def _print_missing(directory: Path, found: Manifest) -> None:
    """The calls the backup holds without their recording: the operator's to follow up, so said last."""
    from callsense.backup import manifest

    missing = manifest.missing_summary(directory, found)
    if missing is not None:
        common.out.print(f"warning: {missing}", highlight=False, soft_wrap=True, markup=False)


@app.command("verify")
def backup_verify(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
    accept_unsealed: AcceptUnsealed = False,
) -> None:
    """Check the manifest's seal with the backup's key ring, then every file against the manifest's sums.

    The key ring: the sealed one in DIR opened with its passphrase, or --key-file.

    Exit codes: 0 intact, 1 altered, damaged, incomplete or the key ring does not fit.
    """
    from callsense.backup import archive

    passphrase = _backup_passphrase(directory, key_file=key_file, passphrase_file=passphrase_file)
    with common.errors_as_exit():
        found, _ = archive.check(
            directory,
            passphrase=passphrase,
            key_file=key_file,
            accept_unsealed=accept_unsealed,
            progress=TerminalProgress(),
        )
    sealed = "sealed" if found.seal else "NOT sealed (made before sealing)"
    common.out.print(
        f"backup in {directory} is intact: {len(found.files)} files, made {common.when(found.created_at)}, "
        f"{found.calls} calls, manifest {sealed}",
        highlight=False,
    )
    _print_missing(directory, found)


@app.command("restore")
def backup_restore(
    directory: Annotated[Path, typer.Argument(help="The backup directory.")],
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
    accept_unsealed: AcceptUnsealed = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace the contents of a database that is not empty, when nothing in it (calls, users, "
            "API tokens, deliveries, categories) is newer than the backup."
        ),
    ] = False,
    replace_newer: Annotated[
        bool,
        typer.Option(
            help="Replace the contents of a database even though it holds calls (or users, API tokens, "
            "deliveries, categories) added or changed after the backup was made, or lacks users, API tokens "
            "or categories the backup holds (deleted since): those changes are lost (includes --force)."
        ),
    ] = False,
    pg_bin: PgBin = None,
) -> None:
    """Check a backup's seal and sums, then restore its database, recordings and key ring (added to the key
    file). Shows the backup against the database it goes into first.

    Refuses an altered or damaged backup, and a wrong passphrase or key file.

    Refuses a database that is not empty unless --force; one newer than the backup unless --replace-newer.

    Exit codes: 0 restored, 1 refused or failed, 75 the database is unreachable.
    """
    from callsense.backup import archive

    settings = common.settings()
    passphrase = _backup_passphrase(directory, key_file=key_file, passphrase_file=passphrase_file)
    with common.errors_as_exit():
        done = archive.restore(
            settings,
            directory,
            passphrase=passphrase,
            key_file=key_file,
            force=force,
            replace_newer=replace_newer,
            progress=TerminalProgress(),
            accept_unsealed=accept_unsealed,
            pg_bin=pg_bin,
        )
    common.out.print(
        f"restored {done.calls} calls and {done.blobs} recordings (schema {done.schema_revision}); "
        f"key ring ({len(done.key_ring.key_ids)} keys) in {settings.resolved_key_file}",
        highlight=False,
    )
    _print_missing(directory, done)
    from callsense.db import revision_status

    if revision_status(done.schema_revision).up_to_date:
        _erase_again(settings)
    else:  # this version's code erases: after 'db upgrade'
        _print_kept(settings)
    common.out.print(
        "next: 'callsense db status' (and 'callsense db upgrade' if it says so), then start the services"
    )


@app.command("reerase")
def backup_reerase() -> None:
    """Erase again the calls a restore brought back that had been erased after its backup was made.

    A restore of this version's backup does it itself; after an older one, run it after 'db upgrade'.

    It also finishes a restore that stopped before it erased them.

    Exit codes: 0 done (or nothing to do), 1 failed, 75 the database is unreachable.
    """
    _erase_again(common.settings())


def _erase_again(settings: Settings) -> None:
    """Apply the erasures the last restore kept, and say which calls were erased again."""
    from callsense.backup import erasures
    from callsense.pipeline import erasure

    with common.errors_as_exit():
        kept = erasures.pending(settings)
    if not kept:
        return
    with common.runtime() as rt:
        again = erasure.erase_again(rt, kept)
    for earlier in again:
        common.out.print(f"erased again: {earlier.call_id} ({earlier.reason})", highlight=False, markup=False)
    common.out.print(
        f"{len(again)} call(s) erased before this restore were erased again", highlight=False, soft_wrap=True
    )


def _print_kept(settings: Settings) -> None:
    from callsense.backup import erasures

    with common.errors_as_exit():
        kept = erasures.pending(settings)
    if kept:
        common.out.print(
            f"{len(kept)} erasure(s) recorded before this restore are kept in {erasures.kept_in(settings)}: "
            "the calls they name may be back until 'callsense backup reerase' erases them again (after "
            "'callsense db upgrade')",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
