"""A log that samples repeated refusals: one line per endpoint and reason a while, with the count left out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("callsense.api.webhooks")


class SampledLog:
    """One "webhook refused" line per endpoint and reason every ``interval_s`` at most, with the number of
    refusals left out since the last line: each unauthenticated post would otherwise be a line."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_line: dict[tuple[str, str], float] = {}  # bounded: endpoints x reasons
        self._left_out: dict[tuple[str, str], int] = {}

    def refused(self, *, endpoint: str, reason: str, header: str | None) -> None:
        key, now = (endpoint, reason), self._clock()
        with self._lock:
            last = self._last_line.get(key)
            if last is not None and now - last < self._interval_s:
                self._left_out[key] = self._left_out.get(key, 0) + 1
                return
            self._last_line[key] = now
            left_out = self._left_out.pop(key, 0)
        log.info(
            "webhook refused",
            endpoint=endpoint,
            reason=reason,
            header=header,
            authentic=False,
            left_out_since=left_out,
        )
