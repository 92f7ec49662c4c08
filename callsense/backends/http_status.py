"""What an HTTP error status means for a retry, once for every client: recordings, LLM servers and CRMs."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# An error code, type or field name in a server's error body, never a sentence nor a number (a card, a phone
# echoed where a code goes): what callsense keeps of one.
ERROR_NAME = re.compile(r"(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9_][A-Za-z0-9_.:-]{0,79}")

# "Request timeout" and "too many requests": the only 4xx that mean "try again later".
_RETRYABLE_4XX = frozenset({408, 429})


def is_retryable(status: int) -> bool:
    """True for 5xx, 408 and 429, where a later attempt may succeed; every other 4xx is final."""
    return status >= 500 or status in _RETRYABLE_4XX


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait in its ``Retry-After`` header: delta-seconds (a decimal is taken too,
    as some OpenAI-compatible proxies send one) or an HTTP date (0 once past); None when absent or unreadable.
    How long is too long is for the caller to decide."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
