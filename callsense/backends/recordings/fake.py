"""Recordings held in memory, for tests of the stages that need no recording server and no files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

from callsense.errors import PermanentFetchError


class FakeRecordings:
    """The bytes given for each source; a source it does not hold is refused as a missing file would be.
    Every read is recorded, with whether local files were allowed."""

    def __init__(self, recordings: Mapping[str, bytes]) -> None:
        self._recordings = dict(recordings)
        self.reads: list[tuple[str, bool]] = []

    def spool(self, source: str, *, local_files: bool, into: BinaryIO) -> None:
        self.reads.append((source, local_files))
        try:
            into.write(self._recordings[source])
        except KeyError:
            raise PermanentFetchError(f"no such recording: {source}") from None
