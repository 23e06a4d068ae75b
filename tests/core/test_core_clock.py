"""The simulated clock: one simulated time shared by several processes (bench/console.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.clock import ScaledClock

START = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def test_a_clock_given_another_clocks_origin_reads_the_same_time() -> None:
    first = ScaledClock(START, 10.0)
    time.sleep(0.05)
    second = ScaledClock(START, 10.0, origin=first.origin)
    a, b = first.now(), second.now()
    assert abs((b - a).total_seconds()) < 0.5  # both about 0.5 s past 09:30, not 0 and 0.5
    assert second.now() - START >= timedelta(seconds=0.4)


def test_an_origin_in_the_past_starts_the_clock_that_far_ahead() -> None:
    clock = ScaledClock(START, 60.0, origin=time.monotonic() - 2.0)
    assert clock.now() - START >= timedelta(minutes=2)


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(START, 0.0)
