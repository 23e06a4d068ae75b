"""A fixed-size ring of recent fixes, stored flat in one ``array('d')``.

Ten thousand vehicles with a hundred fixes each must stay far below the memory budget;
a deque of tuples of floats costs ~140 bytes per fix, this costs 24.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime


class Trail:
    """The last ``capacity`` fixes ``(epoch seconds, lat, lon)``, oldest dropped first."""

    __slots__ = ("_buf", "_capacity", "_count", "_head")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("trail capacity must be at least 1")
        self._capacity = capacity
        self._buf = array("d", bytes(8 * 3 * capacity))
        self._head = 0
        self._count = 0

    def append(self, ts: float, lat: float, lon: float) -> None:
        """Add the newest fix, overwriting the oldest when full."""
        i = self._head * 3
        buf = self._buf
        buf[i] = ts
        buf[i + 1] = lat
        buf[i + 2] = lon
        self._head = (self._head + 1) % self._capacity
        if self._count < self._capacity:
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def points(self) -> list[tuple[datetime, float, float]]:
        """Fixes oldest first, with aware UTC datetimes."""
        start = (self._head - self._count) % self._capacity
        out = []
        for k in range(self._count):
            i = ((start + k) % self._capacity) * 3
            ts = datetime.fromtimestamp(self._buf[i], UTC)
            out.append((ts, self._buf[i + 1], self._buf[i + 2]))
        return out
