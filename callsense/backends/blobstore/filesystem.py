"""A ``BlobStore`` in a local directory: files 0600, directories 0700, writes made atomic by rename.

Key ``calls/1/audio`` is stored as ``<root>/calls/1/audio@blob``. The suffix holds a character that keys
cannot contain, so a file never collides with a directory (keys ``a`` and ``a/b`` coexist, as on S3) nor with
the temporary files of unfinished writes (``.<random>.tmp`` beside the blob). A write killed midway
(SIGKILL, power loss) leaves its temporary file; ``sweep_leftovers`` removes those no live writer holds.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from callsense import tempfiles
from callsense.backends.blobstore.base import Leftover, validate_key
from callsense.errors import BlobStoreUnavailableError, ConfigError, NotFoundError

__all__ = ["FilesystemBlobStore"]

_SUFFIX = "@blob"
_TEMPORARY = re.compile(r"\.[^@]+\.tmp")  # mkstemp(prefix=".", suffix=".tmp"); a blob's name ends in @blob
# A temporary file younger than this is never swept, locked or not: a stalled write on a share whose locks
# are not to be trusted (NFS after a server restart) keeps it, and space is all a leftover costs.
LEFTOVER_AGE_S = tempfiles.WITHOUT_LOCKS_AFTER_S


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            try:
                root.mkdir(parents=True, mode=0o700)
                os.chmod(root, 0o700)  # mkdir's mode is filtered by the umask
            except FileExistsError:  # strerror would say "File exists", which reads as no problem at all
                raise ConfigError(f"cannot use blob_dir {root}: it is a file, not a directory") from None
            except OSError as exc:
                raise ConfigError(f"cannot use blob_dir {root}: {exc.strerror}") from exc
        self._root = root

    def __repr__(self) -> str:
        return f"FilesystemBlobStore({str(self._root)!r})"

    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self._path(key)
        with self._failing(key):
            self._make_dirs(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # mkstemp makes 0600
        try:
            with os.fdopen(fd, "wb") as file:
                # held until the file is closed: ``sweep_leftovers`` leaves a live write alone
                tempfiles.lock_while_writing(fd)
                for chunk in chunks:  # what the caller's chunks raise is theirs, not the store's
                    with self._failing(key):
                        file.write(chunk)
                with self._failing(key):
                    file.flush()
                    os.fsync(file.fileno())  # the data is on disk before the name points at it
                    os.replace(tmp, path)  # still locked: a sweep never sees this name unlocked
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with self._failing(key):
            tempfiles.fsync_dir(path.parent)

    @contextlib.contextmanager
    def _failing(self, key: str) -> Iterator[None]:
        """A full disk, a lost mount or a read-only one: retryable, and saying where (a bare OSError would
        name no directory and be logged as a stage's unexpected error)."""
        try:
            yield
        except OSError as exc:
            raise BlobStoreUnavailableError(
                f"the blob store in {self._root} cannot write {key}: {exc.strerror or exc}"
            ) from exc

    def open(self, key: str) -> io.BufferedReader:
        """The open file keeps the version it opened: a ``put`` renames a new file over the name."""
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"no blob {key!r}") from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        tempfiles.fsync_dir(path.parent)  # the removal itself survives a crash

    def sweep_leftovers(self, *, older_than_s: float = LEFTOVER_AGE_S) -> list[Leftover]:
        """Remove the temporary files of writes killed midway: those older than ``older_than_s`` (by their
        last write) that no live writer holds locked. Returns what it removed."""
        removed = []
        for directory, _, names in os.walk(self._root):  # symbolic links to directories are not followed
            for name in names:
                if not _TEMPORARY.fullmatch(name):
                    continue
                path = Path(directory, name)
                size_and_age = tempfiles.remove_if_abandoned(path, older_than_s=older_than_s)
                if size_and_age is not None:
                    size, age = size_and_age
                    removed.append(Leftover(str(path.relative_to(self._root)), size=size, age_s=age))
        return removed

    def _path(self, key: str) -> Path:
        return self._root / (validate_key(key) + _SUFFIX)

    def _make_dirs(self, directory: Path) -> None:
        # one level at a time: os.makedirs applies the mode to the last directory only
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
