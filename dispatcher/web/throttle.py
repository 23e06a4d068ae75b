"""Per-key request budgets (per client address, per link) kept in memory.

A sliding window of ``limit`` requests per ``window_s`` seconds; the key table is bounded so
a flood of new addresses cannot grow it without end (the oldest keys are forgotten first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from dispatcher.clock import system_monotonic


class Throttle:
    def __init__(self, limit: int, window_s: float, max_keys: int = 50_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0

    def allow(self, key: str) -> bool:
        """Count one request for ``key``; False when its budget is spent."""
        now = system_monotonic()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            ok = len(hits) < self.limit
            if ok:
                hits.append(now)
            else:
                self.refused += 1
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return ok
