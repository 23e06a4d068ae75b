"""Retention: position history older than K days is deleted, a small batch at a time.

A core :class:`~dispatcher.services.Service`: every ``prune_interval_s`` (the core's clock) it
deletes at most ``prune_batch`` of the oldest fixes past the cutoff, and goes on next tick while
there is more, so a first prune of a year of history never holds the database (or the GUI
tick) for long. Delivery events, stops and the audit log are the day's record and are kept.

The batch runs on a thread of its own (one at a time): the console's tick is the GUI thread,
which must not wait on a database that has stopped answering (issue 16, ``bench/stall.py``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from dispatcher.clock import Clock
from dispatcher.history.settings import HistorySettings
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database

log = logging.getLogger(__name__)


class RetentionService:
    """Prunes positions older than ``retention_days`` (0 keeps everything)."""

    name = "history retention"

    def __init__(self, db: Database, clock: Clock, settings: HistorySettings) -> None:
        self._db = db
        self._clock = clock
        self._days = settings.retention_days
        self._batch = settings.prune_batch
        self._interval = settings.prune_interval_s
        self._next_run = clock.monotonic()
        self._worker: threading.Thread | None = None
        self.pruned = 0

    @property
    def enabled(self) -> bool:
        return self._days > 0

    def cutoff(self) -> datetime:
        return self._clock.now() - timedelta(days=self._days)

    def prune_once(self) -> int:
        """Delete one batch; returns how many fixes went."""
        if not self.enabled:
            return 0
        with self._db.session() as session:
            n = history_repo.prune_positions(session, self.cutoff(), self._batch)
        self.pruned += n
        if n:
            log.info("history retention: pruned %d positions older than %s", n, self.cutoff())
        return n

    def prune_all(self) -> int:
        """Batch after batch until nothing is past the cutoff (``dispatcher history prune``)."""
        total = 0
        while n := self.prune_once():
            total += n
        return total

    def tick(self) -> None:
        """Start the next batch in a thread when one is due and none is running."""
        now = self._clock.monotonic()
        if not self.enabled or now < self._next_run or self.busy:
            return
        self._next_run = now + self._interval
        self._worker = threading.Thread(
            target=self._prune_due, args=(now,), name="history retention", daemon=True
        )
        self._worker.start()

    def _prune_due(self, started: float) -> None:
        try:
            full = self.prune_once() >= self._batch
        except Exception:  # the database is away: the next interval tries again
            log.exception("history retention: a batch failed")
            return
        if full:  # more is waiting: come back on the next tick, not in a minute
            self._next_run = started

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Until the running batch (if any) has ended (tests, and :meth:`stop`)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def stop(self) -> None:
        """Let a running batch end (each is its own short transaction) before the core closes."""
        self.wait(timeout=10)
