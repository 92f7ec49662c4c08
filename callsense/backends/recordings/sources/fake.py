"""A source whose listing a test sets: no folder, no files, each file's call given or refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

from callsense.backends.recordings.sources.base import Listed, Recording
from callsense.calls.service import CallDetails
from callsense.errors import CallsenseError


class FakeSource:
    """Lists ``files`` (set them between polls); ``refusals`` maps a key to the error its inspection raises.
    Each file's call id is its key; every finished key is recorded."""

    def __init__(self, name: str, files: list[Listed] | None = None) -> None:
        self._name = name
        self.files = list(files or [])
        self.refusals: dict[str, CallsenseError] = {}
        self.finished: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def scan(self) -> Iterator[Listed]:
        return iter(list(self.files))

    def inspect(self, listed: Listed) -> Recording:
        if listed.key in self.refusals:
            raise self.refusals[listed.key]
        return Recording(call_id=listed.key, details=CallDetails(metadata={"source": self._name}))

    def staged(self, listed: Listed) -> AbstractContextManager[str]:
        return nullcontext(listed.location)

    def finish(self, listed: Listed) -> None:
        self.finished.append(listed.key)
