"""The sign-in throttle: refuses a user name after too many failures, forgets them after the window."""

from __future__ import annotations

import pytest

from callsense.web import throttle as throttle_module
from callsense.web.throttle import SignInThrottle


def test_too_many_failures_block_that_name_only(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(throttle_module.time, "monotonic", lambda: now[0])
    throttle = SignInThrottle(max_failures=3, window_s=60)
    for _ in range(3):
        assert not throttle.blocked("Maria")
        throttle.failed("maria ")
    assert throttle.blocked("maria") and not throttle.blocked("tom")
    now[0] += 61
    assert not throttle.blocked("maria")


def test_a_success_clears_the_count() -> None:
    throttle = SignInThrottle(max_failures=2, window_s=60)
    throttle.failed("ana")
    throttle.succeeded("ana")
    throttle.failed("ana")
    assert not throttle.blocked("ana")
