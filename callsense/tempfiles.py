"""Temporary files that become real ones by a rename, and what writes killed midway leave of them.

A writer creates its temporary file beside the target, locks it (``lock_while_writing``) and renames it into
place; a ``kill -9`` or a power cut in between leaves the file, which nothing reads and nothing would ever
remove. ``remove_if_abandoned`` removes one that no live writer holds: unlocked and past an age. Where the
file system has no locks (some SMB servers), only an age of ``WITHOUT_LOCKS_AFTER_S`` tells.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
import time
from pathlib import Path

__all__ = [
    "WITHOUT_LOCKS_AFTER_S",
    "fsync_dir",
    "leftovers_of",
    "lock_while_writing",
    "remove_if_abandoned",
    "temporary_name",
]

# A writer writes without long pauses: one whose file has not changed for an hour is gone.
WITHOUT_LOCKS_AFTER_S = 3600.0


def temporary_name(path: Path) -> Path:
    """A fresh name beside ``path`` for the file that will replace it: ``.<name>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def leftovers_of(path: Path) -> list[Path]:
    """The files named by ``temporary_name(path)`` that are still there: writes killed midway (or one in
    progress this very moment)."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def lock_while_writing(fd: int) -> None:
    """Mark the file open on ``fd`` as being written until it is closed. Best effort: where the file system
    has no locks, the age alone protects the write."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_if_abandoned(path: Path, *, older_than_s: float) -> tuple[int, float] | None:
    """Remove ``path`` if it is a regular file, not changed for ``older_than_s`` (a writer takes its lock just
    after creating the file), that no live writer holds locked; its size and age if it was removed."""
    try:
        # O_RDWR: on NFS an exclusive lock needs a file open for writing. O_NOFOLLOW: never a link's target.
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # renamed into place or removed meanwhile, a link, or not ours
        return None
    try:
        info = os.fstat(fd)
        age = time.time() - info.st_mtime
        if not stat.S_ISREG(info.st_mode) or age < older_than_s:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None  # a writer still holds it
            if age < WITHOUT_LOCKS_AFTER_S:
                return None  # no locks on this file system: only the age tells
        try:
            path.unlink()
        except FileNotFoundError:
            return None
        fsync_dir(path.parent)
        return info.st_size, age
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # makes a rename or a removal itself survive a crash
    finally:
        os.close(fd)
