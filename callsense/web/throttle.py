"""Slows password guessing: after too many failed sign-ins for one user name, further tries are refused for a
while. Kept in the process (several API processes each count their own), which bounds guessing without a
table to clean up; argon2's cost per try does the rest."""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 10
WINDOW_S = 15 * 60.0


class SignInThrottle:
    def __init__(self, *, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self._window:
            failures.popleft()
        return failures

    def blocked(self, username: str) -> bool:
        key = username.strip().lower()
        with self._lock:
            blocked = len(self._recent(key, time.monotonic())) >= self._max
            if not self._failures.get(key):
                self._failures.pop(key, None)
            return blocked

    def failed(self, username: str) -> None:
        with self._lock:
            self._recent(username.strip().lower(), time.monotonic()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.strip().lower(), None)
