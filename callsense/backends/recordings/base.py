"""The recordings port: the bytes of a call's recording, copied from the source it was registered with into
a file of the caller's (a temporary file: a recording may be larger than the memory to spare).

A source is an http(s) URL (downloaded behind the SSRF guard, ``http.py``) or a local path (``local.py``).
Local paths are read only where the caller says so: the CLI reads the files it is given, a source that came
over the network (a webhook) must not make callsense read its own disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit


class Recordings(Protocol):
    def spool(self, source: str, *, local_files: bool, into: BinaryIO) -> None:
        """Write the recording's bytes into ``into`` as they come, checked to be audio; raises
        ``FetchError`` (retryable) or a permanent error (``PermanentFetchError``, ``BadAudioError``), after
        which ``into`` may hold a part."""
        ...


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in {"http", "https"}


def is_path(source: str) -> bool:
    """A file path, not a URL of any scheme: a one-letter scheme is a Windows drive."""
    return len(urlsplit(source).scheme) <= 1


def describe(source: str) -> str:
    """The source as safe to store and log: no credentials or query string from a URL; an S3 source's
    ``s3://bucket/key`` (which holds neither) as it is."""
    if urlsplit(source).scheme.lower() == "s3":
        return source
    if not is_url(source):
        return str(Path(source).expanduser().resolve())
    parts = urlsplit(source)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
