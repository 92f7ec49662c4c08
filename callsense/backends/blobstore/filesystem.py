"""A ``BlobStore`` in a local directory: files 0600, directories 0700, writes made atomic by rename.

Key ``calls/1/audio`` is stored as ``<root>/calls/1/audio@blob``. The suffix holds a character that keys
cannot contain, so a file never collides with a directory (keys ``a`` and ``a/b`` coexist, as on S3) nor with
the temporary files of unfinished writes.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from callsense.backends.blobstore.base import validate_key
from callsense.errors import BlobStoreUnavailableError, NotFoundError

__all__ = ["FilesystemBlobStore"]

_SUFFIX = "@blob"


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            root.mkdir(parents=True, mode=0o700)
            os.chmod(root, 0o700)  # mkdir's mode is filtered by the umask
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
                for chunk in chunks:  # what the caller's chunks raise is theirs, not the store's
                    with self._failing(key):
                        file.write(chunk)
                with self._failing(key):
                    file.flush()
                    os.fsync(file.fileno())  # the data is on disk before the name points at it
            with self._failing(key):
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with self._failing(key):
            _fsync_dir(path.parent)

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
        _fsync_dir(path.parent)  # the removal itself survives a crash

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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # makes the rename itself survive a crash
    finally:
        os.close(fd)
