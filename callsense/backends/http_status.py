"""What an HTTP error status means for a retry, once for every client: recordings, LLM servers and CRMs."""

from __future__ import annotations

# "Request timeout" and "too many requests": the only 4xx that mean "try again later".
_RETRYABLE_4XX = frozenset({408, 429})


def is_retryable(status: int) -> bool:
    """True for 5xx, 408 and 429, where a later attempt may succeed; every other 4xx is final."""
    return status >= 500 or status in _RETRYABLE_4XX
