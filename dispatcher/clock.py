"""The one clock of the core.

Every rule, ETA and retry asks a :class:`Clock` for the time instead of calling
``datetime.now()``, so tests can run a whole day in milliseconds with :class:`FakeClock`
and the simulator can run faster than real time.

What is about this machine rather than the fleet's day (an audit stamp, a throttle, a
solver's time budget, a timeout) asks :func:`system_now` or :func:`system_monotonic`. This
module is the only one that reads the machine's clock itself: ruff's banned-api rule refuses
``datetime.now`` and ``time.monotonic`` anywhere else (docs/architecture.md).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

#: This machine's monotonic seconds (arbitrary origin, never backwards): throttles, timeouts,
#: solvers' time budgets. The built-in itself, so a search loop pays nothing for asking here.
system_monotonic = time.monotonic


def system_now(tz: tzinfo = UTC) -> datetime:
    """This machine's wall clock now, aware, in ``tz`` (UTC unless told).

    For what is about this machine, not the fleet's day: audit stamps, a sync note's time, the
    command line's default day. Rules, ETAs and retries ask the core's :class:`Clock`.
    """
    return datetime.now(tz)


class Clock(Protocol):
    """Source of the current time (always timezone-aware UTC)."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never go backwards."""
        ...


class SystemClock:
    """The wall clock of this machine."""

    def now(self) -> datetime:
        return system_now()

    def monotonic(self) -> float:
        return system_monotonic()


class FakeClock:
    """A clock that only moves when told to; thread-safe so paho threads may read it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._origin = self._now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return (self._now - self._origin).total_seconds()

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        """Move the clock forward by ``seconds`` (and/or timedelta keyword arguments)."""
        delta = timedelta(seconds=seconds, **kwargs)
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (forward only)."""
        with self._lock:
            if when < self._now:
                raise ValueError("time does not go backwards")
            self._now = when


class ScaledClock:
    """Wall time running ``speed`` times faster from a start instant (simulator, demo)."""

    def __init__(self, start: datetime, speed: float = 1.0, *, origin: float | None = None) -> None:
        """``origin``: the ``time.monotonic()`` instant that is ``start`` (default: now).
        Linux's monotonic clock is one per machine, so processes given the same start,
        speed and origin share one simulated time (bench/console.py's recorder process)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._speed = speed
        self._t0 = time.monotonic() if origin is None else origin

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def origin(self) -> float:
        """The ``time.monotonic()`` instant this clock read its start."""
        return self._t0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self._speed)

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self._speed
