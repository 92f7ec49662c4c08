"""The byte ranges of a recording that the API and the dashboard serve (RFC 9110, one range)."""

from __future__ import annotations

import pytest

from callsense.calls.access import byte_span
from callsense.errors import UnsatisfiableRangeError


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("", None),
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=50-500", (50, 99)),
        # RFC 9110 14.2: a unit it does not know is ignored; of several ranges, this server serves none
        # (416 would say that none overlaps the recording), so the whole recording answers.
        ("items=0-9", None),
        ("bytes=0-9,20-29", None),
    ],
)
def test_a_range_is_read_within_the_recording(header: str | None, span: tuple[int, int] | None) -> None:
    assert byte_span(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=-", "bytes=100-", "bytes=9-3", "bytes=x-9"])
def test_a_range_outside_or_malformed_is_refused_with_the_size(header: str) -> None:
    with pytest.raises(UnsatisfiableRangeError) as caught:
        byte_span(header, 100)
    assert caught.value.size == 100
