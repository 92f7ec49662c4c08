from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from callsense import backoff
from callsense.backends.llm import http as llm_http
from callsense.config import Settings
from callsense.errors import (
    BadAudioError,
    FetchError,
    LLMUnavailableError,
    RetryableError,
    RetryableStatusError,
)
from callsense.pipeline.retries import RETRY, Backoff
from callsense.pipeline.tasks import queueing_lock
from callsense.security.tokens import Role
from tests.conftest import ROOT


class _Job:
    def __init__(self, attempts: int) -> None:
        self.attempts = attempts


def decide(strategy: Backoff, error: Exception, attempts: int) -> Any:
    return strategy.get_retry_decision(exception=error, job=_Job(attempts))  # type: ignore[arg-type]


def wait_seconds(strategy: Backoff, attempts: int, error: Exception | None = None) -> float:
    decision = decide(strategy, error or FetchError("down"), attempts)
    return float((decision.retry_at - datetime.now(UTC)).total_seconds())


def test_retryable_errors_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    strategy = Backoff(max_attempts=20, base_seconds=5, cap_seconds=60)
    waits = [wait_seconds(strategy, attempt) for attempt in range(8)]
    assert all(1 <= wait <= 61 for wait in waits)
    assert waits[0] <= 6 and waits[-1] >= 29  # grows, then stays under the cap
    jittered = {round(wait_seconds(strategy, 5)) for _ in range(30)}
    assert len(jittered) > 3  # workers retrying together do not stampede


def test_every_wait_is_at_least_half_its_ceiling() -> None:
    # Equal jitter: a server that is down always gets some time to come back, whoever computes the wait.
    for retry in range(RETRY["fetch"].max_attempts - 1):
        ceiling = backoff.ceiling_s(retry, base_s=5, cap_s=900)
        assert ceiling == min(900, 5 * 2**retry)
        assert all(ceiling / 2 <= backoff.wait_s(retry, base_s=5, cap_s=900) <= ceiling for _ in range(50))
        assert ceiling / 2 <= wait_seconds(RETRY["fetch"], retry) <= ceiling + 1


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(part for part in parts if part)


def _waits(strategy: Backoff) -> tuple[int, int]:
    """Least and most seconds a job that always fails spends waiting between its runs."""
    ceilings = [
        backoff.ceiling_s(retry, base_s=strategy.base_seconds, cap_s=strategy.cap_seconds)
        for retry in range(strategy.max_attempts - 1)
    ]
    return sum(math.ceil(c / 2) for c in ceilings), sum(math.ceil(c) for c in ceilings)


def test_the_worst_cases_in_the_service_doc_follow_the_retry_table_and_the_settings() -> None:
    doc = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    for stage, strategy in RETRY.items():
        least, most = _waits(strategy)
        row = f"| `{stage}` | {strategy.max_attempts} | {_duration(least)} | {_duration(most)} |"
        assert row in doc, f"docs/service.md should have the row {row}"
    defaults = Settings()
    fetch_runs, analyse_runs = RETRY["fetch"].max_attempts, RETRY["analyse"].max_attempts
    fetch_waits, analyse_waits = _waits(RETRY["fetch"])[1], _waits(RETRY["analyse"])[1]
    rows = [
        ("recorder refusing connections, or answering 5xx", fetch_runs, fetch_waits),
        (
            "recorder not answering a connection (per address it resolves to)",
            fetch_runs,
            fetch_waits + fetch_runs * defaults.fetch.connect_timeout_s,
        ),
        (
            "recorder accepting the connection, then silent",
            fetch_runs,
            fetch_waits + fetch_runs * defaults.fetch.read_timeout_s,
        ),
        ("LLM server refusing connections, or answering 5xx", analyse_runs, analyse_waits),
        (
            "LLM server not answering a connection",
            analyse_runs,
            analyse_waits + analyse_runs * llm_http.CONNECT_TIMEOUT_S,
        ),
        (
            "LLM server accepting the request, never answering",
            analyse_runs,
            analyse_waits + analyse_runs * defaults.llm.timeout_s,
        ),
        ("LLM server dropping every connection unanswered", 2 * analyse_runs, analyse_waits),
        (
            "recorder throttling every request with a `Retry-After` of 15 min or more",
            fetch_runs,
            (fetch_runs - 1) * RETRY["fetch"].cap_seconds,
        ),
        (
            "LLM server throttling every request with a `Retry-After` of 30 min or more",
            analyse_runs,
            (analyse_runs - 1) * RETRY["analyse"].cap_seconds,
        ),
    ]
    for what, requests, seconds in rows:
        row = f"| {what} | {requests} | {_duration(seconds)} |"
        assert row in doc, f"docs/service.md should have the row {row}"


def _throttled_recorder(seconds: float) -> RetryableError:
    return RetryableStatusError("the recording server answered 429", status=429, retry_after=seconds)


def _throttled_llm(seconds: float) -> RetryableError:
    return LLMUnavailableError("HTTP 429", retry_after=seconds)


@pytest.mark.parametrize(
    ("stage", "throttled"), [("fetch", _throttled_recorder), ("analyse", _throttled_llm)]
)
def test_a_servers_retry_after_lengthens_the_wait_never_shortens_it_and_is_capped(
    stage: str, throttled: Callable[[float], RetryableError]
) -> None:
    strategy = RETRY[stage]  # the first backoff: half the base to the base
    assert 119 <= wait_seconds(strategy, 0, throttled(120)) <= 121
    shortest, longest = strategy.base_seconds / 2, strategy.base_seconds
    assert shortest - 0.5 <= wait_seconds(strategy, 0, throttled(1)) <= longest + 1  # not "Retry-After: 1"
    assert (
        strategy.cap_seconds - 1 <= wait_seconds(strategy, 0, throttled(86_400)) <= strategy.cap_seconds + 1
    )


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


def test_the_stall_timeout_must_span_several_heartbeats_and_the_retry_waits_be_positive() -> None:
    with pytest.raises(ValidationError, match=r"at least 3 heartbeats \(queue.heartbeat_s 5\)"):
        Settings(queue={"heartbeat_s": 5, "stalled_after_s": 10})
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings(queue={"retry_base_s": {"fetch": 0}})
    assert Settings(queue={"heartbeat_s": 0.5, "stalled_after_s": 2}).queue.recovery_every_s == 4
    defaults = Settings().queue
    assert (defaults.heartbeat_s, defaults.stalled_after_s, defaults.recovery_every_s) == (5, 30, 60)
    assert {stage: getattr(defaults.retry_base_s, stage) for stage in RETRY} == {
        stage: strategy.base_seconds for stage, strategy in RETRY.items()
    }
