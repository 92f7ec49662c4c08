"""The wait between two tries of the same thing: a queued stage, a CRM delivery, a restart of the embedded
PostgreSQL. One formula for all of them, exponential with equal jitter.

Retry ``n`` (0 for the first) waits a random time between half and all of ``min(cap, base * 2**n)``. The fixed
half gives a server that is down time to come back (full jitter may retry at once); the random half keeps
workers that failed together from trying again in step.
"""

from __future__ import annotations

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
