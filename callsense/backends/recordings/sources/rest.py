"""A REST source: an HTTP API that lists recordings since a cursor (``GET url?since=CURSOR``).

The listing is read through the same SSRF-safe download as recordings (``http.download`` without the audio
check, at most ``MAX_LISTING_BYTES``); each item is mapped by the source's ``fields`` onto a call id, the
recording's URL and the call's details. The recording itself is not read here: it is downloaded by the
fetch stage, on any worker, with the queue's retries, exactly as a webhook's.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from typing import Any

import httpx

from callsense.backends.recordings import http
from callsense.backends.recordings.base import describe, is_url
from callsense.backends.recordings.sources import metadata
from callsense.backends.recordings.sources.base import Recording
from callsense.config.sources import RestSourceSettings
from callsense.errors import (
    CallsenseError,
    RecordingRefusedError,
    RetryableError,
    SourceUnavailableError,
    StatusError,
)

MAX_LISTING_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Listed:
    """One item of a page: its recording's URL and call, or why it was refused."""

    index: int
    url: str | None = None
    recording: Recording | None = None
    refused: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Listed]
    next_cursor: str | None  # None: no further page now


class RestSource:
    def __init__(self, settings: RestSourceSettings, options: http.FetchOptions) -> None:
        self.settings = settings
        self._options = dataclasses.replace(options, max_bytes=min(options.max_bytes, MAX_LISTING_BYTES))

    @property
    def name(self) -> str:
        return self.settings.name

    def page(self, cursor: str | None) -> Page:
        """The recordings listed after ``cursor``; raises ``SourceUnavailableError`` when the API cannot be
        read or answers something that is not a listing, with its ``Retry-After`` if it sent one."""
        url = httpx.URL(self.settings.url)
        if cursor is not None:
            url = url.copy_merge_params({self.settings.cursor_param: cursor})
        try:
            listing = io.BytesIO()
            http.download(str(url), self._options, listing, audio=False)
            answer = json.loads(listing.getvalue())
        except StatusError as exc:
            raise SourceUnavailableError(
                f"the listing at {describe(self.settings.url)}: {self._refusal(exc)}"
            ) from None
        except CallsenseError as exc:
            raise SourceUnavailableError(
                f"the listing at {describe(self.settings.url)}: {exc}",
                retry_after=exc.retry_after if isinstance(exc, RetryableError) else None,
            ) from None
        except ValueError as exc:
            raise SourceUnavailableError(f"{describe(self.settings.url)} answered no JSON: {exc}") from None
        except RecursionError:
            shown = describe(self.settings.url)
            raise SourceUnavailableError(f"{shown} answered JSON nested too deeply") from None
        items = _at(answer, self.settings.items_path)
        if not isinstance(items, list):
            where = self.settings.items_path or "the answer"
            raise SourceUnavailableError(f"{describe(self.settings.url)}: {where} is not a list")
        following = _at(answer, self.settings.next_cursor_path)
        next_cursor = (
            str(following) if isinstance(following, str | int) and str(following) != cursor else None
        )
        return Page(
            items=[self._item(index, item) for index, item in enumerate(items)], next_cursor=next_cursor
        )

    def _refusal(self, exc: StatusError) -> str:
        """What a refused listing means for the engineer: which credentials were sent, if any."""
        if exc.status not in (401, 403):
            return str(exc)
        url = httpx.URL(self.settings.url)
        entry = http.credentials_for(url, self._options.sources)
        if entry is None and url.userinfo:
            return (
                f"the API answered {exc.status}: the user name and password in the source's url were refused"
            )
        if entry is None:
            return (
                f"the API answered {exc.status}: no credentials were sent, as no [[fetch.sources]] "
                "url_prefix covers this URL"
            )
        return (
            f"the API answered {exc.status}: the credentials of the [[fetch.sources]] entry "
            f"{describe(entry.url_prefix)} were refused (wrong or expired, or not allowed to list recordings)"
        )

    def _item(self, index: int, item: Any) -> Listed:
        fields = self.settings.fields
        values = {
            field: str(found)
            for field, key in fields.items()
            if isinstance(found := _at(item, key), str | int | float) and not isinstance(found, bool)
        }
        url = values.pop("recording_url", None)
        try:
            if "call_id" not in values or url is None:
                raise RecordingRefusedError(
                    f"it names no {fields['call_id'] if url else fields['recording_url']}"
                )
            if not is_url(url):
                raise RecordingRefusedError(f"its recording URL {describe(url)[:120]} is not http(s)")
            call_id, details = metadata.call_details(values, settings=self.settings, key=describe(url))
        except RecordingRefusedError as exc:
            return Listed(index=index, refused=str(exc))
        return Listed(index=index, url=url, recording=Recording(call_id=call_id, details=details))


def _at(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` ('' is the document itself), or None."""
    for part in filter(None, path.split(".")):
        document = document.get(part) if isinstance(document, dict) else None
    return document
