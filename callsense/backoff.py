"""The wait between two tries of the same thing: a queued stage, a CRM delivery, a restart of the embedded
PostgreSQL. One formula for all of them, exponential with equal jitter.

Retry ``n`` (0 for the first) waits a random time between half and all of ``min(cap, base * 2**n)``. The fixed
half gives a server that is down time to come back (full jitter may retry at once); the random half keeps
workers that failed together from trying again in step.

A server may say when to come back (``Retry-After``, ``backends.http_status.retry_after_s``): ``honouring``
waits that long when it is longer than the backoff, never shorter.
"""

from __future__ import annotations

import math
import random

# 2**64 times any base is past every cap; a larger exponent would only overflow the float.
_MAX_EXPONENT = 64


def ceiling_s(retry: int, *, base_s: float, cap_s: float) -> float:
    """The longest wait before retry ``retry`` (0-based)."""
    return min(cap_s, base_s * 2.0 ** min(max(retry, 0), _MAX_EXPONENT))


def wait_s(retry: int, *, base_s: float, cap_s: float) -> float:
    """A wait before retry ``retry`` (0-based), between half the ceiling and the ceiling."""
    ceiling = ceiling_s(retry, base_s=base_s, cap_s=cap_s)
    return random.uniform(ceiling / 2, ceiling)


def honouring(asked_s: float | None, wait_s: float, *, cap_s: float = math.inf) -> float:
    """``wait_s`` (a backoff), or the wait the server asked for when longer, up to ``cap_s``. Never sooner
    than the backoff: a server answering "Retry-After: 1" through an outage would otherwise be asked every
    second; the cap keeps one that asks for a day from holding the work that long."""
    return max(wait_s, min(asked_s or 0.0, cap_s))
