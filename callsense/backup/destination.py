"""The directory a backup is written into: new or empty, private, and removed again if the backup fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from callsense.backup import manifest as manifests
from callsense.errors import BackupError

__all__ = ["check", "discard", "make_private"]


def check(directory: Path) -> None:
    """Refuse a backup directory that is neither new nor empty, or that cannot be made or written: before a
    passphrase is asked for and the database dumped, not after."""
    try:
        if directory.is_dir() and any(directory.iterdir()) and not (directory / manifests.MANIFEST).exists():
            raise BackupError(  # a dump or a copy that failed, or a backup killed midway: never restorable
                f"{directory} holds an unfinished backup (no {manifests.MANIFEST}: it failed or was stopped "
                "half way): delete it, or give a new directory"
            )
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise BackupError(f"{directory} is not an empty directory: give a new one for each backup")
        nearest = next(path for path in (directory, *directory.parents) if path.exists())
        if not nearest.is_dir():
            raise BackupError(f"cannot make the backup directory {directory}: {nearest} is not a directory")
        writable = os.access(nearest, os.W_OK | os.X_OK)
    except OSError as exc:  # a parent we may not look into
        raise BackupError(f"cannot use {directory} for the backup: {exc.strerror}") from exc
    if not writable:
        raise BackupError(f"cannot write the backup into {directory}: no write permission on {nearest}")


def make_private(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # the dump holds some columns in clear (docs/security.md)
    except OSError as exc:
        raise BackupError(f"cannot make the backup directory {directory}: {exc.strerror}") from exc
    return directory.resolve()


def discard(directory: Path, *, made: bool) -> None:
    """Remove what a failed backup wrote: ``directory`` was new (``made``) or empty, so all of it is ours."""
    if made:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for path in directory.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
