"""The diarization error rate of bench/der.py on cases worked out by hand."""

from __future__ import annotations

import pytest

from bench.der import der

REFERENCE = [(0.0, 10.0, "agent"), (10.0, 20.0, "customer")]


def test_a_perfect_hypothesis_under_other_names_scores_zero() -> None:
    result = der(REFERENCE, [(0.0, 10.0, "B"), (10.0, 20.0, "A")])
    assert result.der == 0.0 and result.total == pytest.approx(20.0)


def test_miss_false_alarm_and_confusion_are_counted_apart() -> None:
    hypothesis = [(0.0, 8.0, "x"), (8.0, 10.0, "y"), (10.0, 20.0, "y"), (20.0, 22.0, "y")]
    result = der([*REFERENCE, (22.0, 24.0, "agent")], hypothesis)
    assert result.confusion == pytest.approx(2.0)  # 8-10 s: y is mapped to the customer
    assert result.false_alarm == pytest.approx(2.0)  # 20-22 s: nobody spoke
    assert result.missed == pytest.approx(2.0)  # 22-24 s: nothing found
    assert result.der == pytest.approx(6.0 / 22.0)


def test_overlapping_reference_speech_counts_for_each_speaker() -> None:
    reference = [(0.0, 10.0, "a"), (5.0, 10.0, "b")]
    result = der(reference, [(0.0, 10.0, "x")])
    assert result.total == pytest.approx(15.0) and result.missed == pytest.approx(5.0)
    assert result.missed_in_overlap == pytest.approx(5.0)  # all of it where both spoke


def test_the_miss_inside_overlap_is_told_apart() -> None:
    reference = [(0.0, 10.0, "a"), (5.0, 10.0, "b"), (12.0, 14.0, "b")]
    result = der(reference, [(0.0, 10.0, "x")])
    assert result.missed == pytest.approx(7.0)
    assert result.missed_in_overlap == pytest.approx(5.0)


def test_the_collar_forgives_boundaries() -> None:
    hypothesis = [(0.0, 10.2, "x"), (10.2, 20.0, "y")]
    assert der(REFERENCE, hypothesis).der == pytest.approx(0.2 / 20.0)
    assert der(REFERENCE, hypothesis, collar=0.25).der == 0.0


def test_overlapping_reference_speech_can_be_left_out() -> None:
    reference = [(0.0, 10.0, "a"), (5.0, 10.0, "b"), (10.0, 12.0, "b")]
    result = der(reference, [(0.0, 10.0, "x"), (10.0, 12.0, "y")], skip_overlap=True)
    assert result.der == 0.0 and result.total == pytest.approx(7.0)
