"""Retention: position history older than K days goes, without holding the database.

A core :class:`~dispatcher.services.Service` of the process that records (dispatcher/site.py),
every ``prune_interval_s`` (the core's clock):

* SQLite, or a PostgreSQL table that is not partitioned: it deletes at most ``prune_batch``
  of the oldest fixes past the cutoff per transaction, and goes on (SQLite: next tick) while
  there is more, so a first prune of a year of history never holds the database for long.
* PostgreSQL, partitioned by day (migration partition_1): it drops the partitions of the
  days that are wholly past the cutoff (a fix stays until its UTC day has gone by, up to a
  day longer than ``retention_days``), and creates the partitions of today and the next
  days ahead, so a day's first fixes never wait for one (persistence/partitions.py).

Each run is a thread of its own (one at a time), never the thread that ticks: a console's
tick is the GUI thread, which must not wait on a database that has stopped answering
(issue 16, ``bench/stall.py``). Delivery events, stops and the audit log are the day's
record and are kept.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta

from dispatcher.clock import Clock
from dispatcher.history.settings import HistorySettings
from dispatcher.persistence import history_repo, partitions
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
        self._partitioned: bool | None = None
        self._worker: threading.Thread | None = None
        self.pruned = 0

    @property
    def enabled(self) -> bool:
        return self._days > 0

    @property
    def partitioned(self) -> bool:
        """True when history is kept in day partitions (looked up once)."""
        if self._partitioned is None:
            self._partitioned = partitions.is_partitioned(self._db.engine)
        return self._partitioned

    def cutoff(self) -> datetime:
        return self._clock.now() - timedelta(days=self._days)

    def prune_once(self) -> int:
        """Delete one batch (or drop the days past the cutoff); returns how many fixes went."""
        if not self.enabled:
            return 0
        cutoff = self.cutoff()
        if self.partitioned:
            dropped = partitions.drop_before(self._db.engine, cutoff)
            n = sum(rows for _, rows in dropped)
            if dropped:
                days = ", ".join(f"{day} ({rows})" for day, rows in dropped)
                log.info("history retention: dropped the days %s, older than %s", days, cutoff)
            self.pruned += n
            return n
        with self._db.session() as session:
            n = history_repo.prune_positions(session, cutoff, self._batch)
        self.pruned += n
        if n:
            log.info("history retention: pruned %d positions older than %s", n, cutoff)
        return n

    def prune_all(self) -> int:
        """Batch after batch until nothing is past the cutoff (``dispatcher history prune``,
        and the upkeep thread on PostgreSQL)."""
        total = 0
        while n := self.prune_once():
            total += n
        return total

    def prepare_days(self) -> list[date]:
        """Create the coming days' partitions (nothing to do on a plain table)."""
        if not self.partitioned:
            return []
        return partitions.ensure_ahead(self._db.engine, self._clock.now())

    def tick(self) -> None:
        """Start the next batch in a thread when one is due and none is running."""
        now = self._clock.monotonic()
        """Start the next upkeep in a thread when one is due and none is running."""
        now = self._clock.monotonic()
        if now < self._next_run or self.busy:
            return
        self._next_run = now + self._interval
        if self._db.engine.dialect.name == "postgresql":
            # A server's upkeep: a concurrent detach waits for the day's readers; a first
            # prune of a plain table deletes batch after batch. A slow one delays the next.
            self._worker = threading.Thread(
                target=self._upkeep, name="history retention", daemon=True
            )
        elif self.enabled:
            self._worker = threading.Thread(
                target=self._prune_due, args=(now,), name="history retention", daemon=True
            )
        else:
            return
        self._worker.start()

    def _prune_due(self, started: float) -> None:
        try:
            full = self.prune_once() >= self._batch
        except Exception:  # the database is away: the next interval tries again
            log.exception("history retention: a batch failed")
            return
        if full:  # more is waiting: come back on the next tick, not in a minute
            self._next_run = started

    def _upkeep(self) -> None:
        try:
            self.prepare_days()
            self.prune_all()
        except Exception as exc:  # the database may be away: the next interval tries again
            log.warning("history upkeep failed: %s", exc)

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = 30.0) -> None:
        """Until the running upkeep (if any) has ended (tests, and :meth:`stop`)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def stop(self) -> None:
        """Let a running upkeep end (each step is its own short transaction) before closing."""
        self.wait(10.0)
