"""Recording sources behind one port (``base.Recordings``): http(s) downloads and local files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from callsense.backends.recordings import http, local
from callsense.backends.recordings.base import Recordings, describe, is_path, is_url
from callsense.config import Settings
from callsense.errors import PermanentFetchError

__all__ = ["Recordings", "SourceReader", "describe", "is_path", "is_url"]


@dataclass(frozen=True)
class SourceReader:
    """Reads a URL with the SSRF-safe download and a path from the local disk, where that is allowed."""

    options: http.FetchOptions

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceReader:
        return cls(http.FetchOptions.from_settings(settings))

    def spool(self, source: str, *, local_files: bool, into: BinaryIO) -> None:
        if is_url(source):
            http.download(source, self.options, into)
            return
        if not is_path(source):
            scheme = urlsplit(source).scheme.lower()
            raise PermanentFetchError(f"unsupported URL scheme '{scheme}': only http and https are fetched")
        if not local_files:
            raise PermanentFetchError("not an http(s) URL, and local files are not read here")
        local.copy_file(source, max_bytes=self.options.max_bytes, into=into)
