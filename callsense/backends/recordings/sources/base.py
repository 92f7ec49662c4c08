"""The recording-sources port: a named place that lists recordings, tells what each says about its call, and
tidies a file away once its audio is stored.

The poll (``pipeline/poll.py``) decides when a listed file is complete and takes each file once; a source
only knows its own storage. ``folder.FolderSource`` reads a directory tree, ``s3.S3Source`` a bucket's
objects under a prefix; ``fake.FakeSource`` holds its
listing in memory for tests. An API that lists recordings since a cursor (``rest.RestSource``) has no files
to wait for or tidy away: it answers pages of calls whose recordings the fetch stage downloads, so it has a
port of its own, ``page(cursor)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from callsense.calls.service import CallDetails


@dataclass(frozen=True)
class Listed:
    """One version of a file a source lists."""

    key: str  # unique within the source, stable across polls: the path relative to its folder
    location: str  # where it is: a path, or s3://bucket/key (registered as the call's source)
    size: int
    mtime: float


@dataclass(frozen=True)
class Recording:
    """What a listed file says about its call."""

    call_id: str
    details: CallDetails


class Source(Protocol):
    @property
    def name(self) -> str: ...

    def scan(self) -> Iterator[Listed]:
        """The recordings there now, complete or not; raises ``SourceUnavailableError`` when the source
        cannot be listed at all."""
        ...

    def inspect(self, listed: Listed) -> Recording:
        """The call ``listed`` holds; raises a ``PermanentError`` for bad input (empty, not audio, a name
        or sidecar that does not parse) and ``SourceUnavailableError`` when it cannot be read now."""
        ...

    def staged(self, listed: Listed) -> AbstractContextManager[str]:
        """A local file holding the recording while the fetch stage reads it: a folder's own file, an
        object's copy streamed to a temporary file."""
        ...

    def finish(self, listed: Listed) -> None:
        """Called once the recording's audio is stored: leave, move or delete it, as configured."""
        ...
