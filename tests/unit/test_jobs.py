from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callsense.errors import BadAudioError, FetchError
from callsense.jobs import RETRY, Backoff, queueing_lock
from callsense.security.tokens import Role


class _Job:
    def __init__(self, attempts: int) -> None:
        self.attempts = attempts


def decide(strategy: Backoff, error: Exception, attempts: int) -> Any:
    return strategy.get_retry_decision(exception=error, job=_Job(attempts))  # type: ignore[arg-type]


def wait_seconds(strategy: Backoff, attempts: int) -> float:
    decision = decide(strategy, FetchError("down"), attempts)
    return float((decision.retry_at - datetime.now(UTC)).total_seconds())


def test_retryable_errors_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    strategy = Backoff(max_attempts=20, base_seconds=5, cap_seconds=60)
    waits = [wait_seconds(strategy, attempt) for attempt in range(8)]
    assert all(1 <= wait <= 61 for wait in waits)
    assert waits[0] <= 6 and waits[-1] >= 29  # grows, then stays under the cap
    jittered = {round(wait_seconds(strategy, 5)) for _ in range(30)}
    assert len(jittered) > 3  # workers retrying together do not stampede


def test_permanent_errors_are_never_retried() -> None:
    assert decide(RETRY["fetch"], BadAudioError("not audio"), 0) is None


def test_attempts_run_out() -> None:
    strategy = Backoff(max_attempts=3, base_seconds=1, cap_seconds=10)
    assert decide(strategy, FetchError("down"), 1) is not None
    assert decide(strategy, FetchError("down"), 2) is None


def test_unexpected_errors_are_retried_like_retryable_ones() -> None:
    # A lost database connection surfaces as a driver error, not one of ours: it must not drop the call.
    assert decide(RETRY["transcribe"], ConnectionError("server closed the connection"), 0) is not None


def test_one_waiting_job_per_stage_and_call() -> None:
    assert queueing_lock("fetch", "abc") == "fetch:abc" != queueing_lock("transcribe", "abc")


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.viewer, Role.viewer, True),
        (Role.viewer, Role.analyst, False),
        (Role.analyst, Role.viewer, True),
        (Role.analyst, Role.admin, False),
        (Role.admin, Role.analyst, True),
    ],
)
def test_roles_include_the_ones_below(role: Role, needed: Role, allowed: bool) -> None:
    assert role.allows(needed) is allowed
