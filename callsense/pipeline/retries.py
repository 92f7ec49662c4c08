"""How often, and after how long, the queue runs a stage again after a retryable failure: exponential
backoff with equal jitter (``callsense.backoff``), each stage's first wait a setting
(``queue.retry_base_s``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from callsense import backoff
from callsense.config.queue import RetryBases
from callsense.errors import CRMUnavailableError, PermanentError, RetryableError


@dataclass(frozen=True)
class Backoff(BaseRetryStrategy):
    """Exponential backoff with equal jitter (``callsense.backoff``), or the server's ``Retry-After`` when
    longer (``RetryableError.retry_after``: a recorder's, an LLM server's), up to ``cap_seconds``; at most
    ``max_attempts`` runs; permanent errors are never retried."""

    max_attempts: int
    base_seconds: float
    cap_seconds: float

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        # job.attempts counts the runs before this one: 0 when the first run just failed.
        if isinstance(exception, PermanentError) or job.attempts + 1 >= self.max_attempts:
            return None
        asked = exception.retry_after if isinstance(exception, RetryableError) else None
        wait = backoff.wait_s(job.attempts, base_s=self.base_seconds, cap_s=self.cap_seconds)
        wait = backoff.honouring(asked, wait, cap_s=self.cap_seconds)
        return RetryDecision(retry_in={"seconds": math.ceil(wait)})


# The only retries of fetch and analyse: the download and the LLM client try once per run (an LLM request
# whose connection the server dropped unanswered is sent once more at once). docs/service.md lists the
# resulting worst cases, checked against this table by tests/unit/test_jobs.py. Here with the default first
# waits (queue.retry_base_s); ``build_app`` gives each task the configured ones.
_BASES = RetryBases()
RETRY = {
    # A recorder or network blip: keep trying for about half an hour.
    "fetch": Backoff(max_attempts=10, base_seconds=_BASES.fetch, cap_seconds=900),
    # Transcription fails only on a lost worker or a full disk: a few tries.
    "transcribe": Backoff(max_attempts=4, base_seconds=_BASES.transcribe, cap_seconds=300),
    # An LLM server may be down for a while (a restart, a model being loaded): about an hour.
    "analyse": Backoff(max_attempts=10, base_seconds=_BASES.analyse, cap_seconds=1800),
    # Re-evaluating categories reads the database only: a few tries ride out a restart of it.
    "categorise": Backoff(max_attempts=5, base_seconds=_BASES.categorise, cap_seconds=300),
}


@dataclass(frozen=True)
class DeliveryRetry(BaseRetryStrategy):
    """The deliver stage decides the wait (the CRM's Retry-After, or jittered backoff) and when to give up
    (the destination's max age), and says so in ``CRMUnavailableError.retry_after``; other errors (the
    database gone for a moment) fall back to a plain backoff."""

    fallback: Backoff

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, CRMUnavailableError) and exception.retry_after is not None:
            return RetryDecision(retry_in={"seconds": max(1, round(exception.retry_after))})
        return self.fallback.get_retry_decision(exception=exception, job=job)


DELIVERY_RETRY = DeliveryRetry(
    fallback=Backoff(max_attempts=20, base_seconds=_BASES.deliver, cap_seconds=1800)
)


def retry_strategies(bases: RetryBases) -> dict[str, BaseRetryStrategy]:
    """Each retried task's strategy with the configured first waits."""
    strategies: dict[str, BaseRetryStrategy] = {
        stage: replace(strategy, base_seconds=getattr(bases, stage)) for stage, strategy in RETRY.items()
    }
    fallback = replace(DELIVERY_RETRY.fallback, base_seconds=bases.deliver)
    strategies["deliver"] = replace(DELIVERY_RETRY, fallback=fallback)
    return strategies
