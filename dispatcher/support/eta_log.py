"""Record the ETAs the desk was shown, compactly, so the flight recorder can replay them.

Until now an ETA lived only in memory: the route boards evaluate the day and announce every
stop's ETA (:class:`~dispatcher.planning.stop_eta.StopEtasChanged`), and the next evaluation
replaced it. This service keeps what changed: a stop's first ETA, a move of at least
``min_change_s`` (default a minute), a late/on-time flip and a reported arrival. The boards
re-evaluate on every fix, so storing each evaluation would be thousands of rows per stop.

The bus calls :meth:`EtaRecorder.on_etas` on the thread that evaluated (the console's GUI
thread): it only compares in memory and queues. :meth:`tick` hands the queue to a writer
thread, one batch at a time, so the database is never written from the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from dispatcher.clock import Clock
from dispatcher.events import EventBus
from dispatcher.persistence import support_repo
from dispatcher.persistence.database import Database
from dispatcher.planning.stop_eta import StopEta, StopEtasChanged

log = logging.getLogger(__name__)

#: ETA changes written per transaction (a fleet's first ETAs are 10,000 at once).
WRITE_CHUNK = 1000

Change = tuple[int, datetime, datetime | None, int, bool]


def changes(
    last: dict[int, tuple[datetime | None, bool, bool]],
    etas: dict[int, StopEta],
    now: datetime,
    min_change_s: float,
) -> list[Change]:
    """The rows to store for ``etas`` given what was stored last (``last`` is updated)."""
    out: list[Change] = []
    for stop_id, eta in etas.items():
        late = eta.late_s > 0
        before = last.get(stop_id)
        if before is not None:
            when, was_actual, was_late = before
            same_kind = was_actual == eta.actual and was_late == late
            if same_kind and when is not None and eta.arrival is not None:
                if abs((eta.arrival - when).total_seconds()) < min_change_s:
                    continue
            elif same_kind and when == eta.arrival:
                continue
        last[stop_id] = (eta.arrival, eta.actual, late)
        out.append((stop_id, now, eta.arrival, round(eta.late_s), eta.actual))
    return out


class EtaRecorder:
    """A core service: ETA changes to the ``eta_log`` table, written off the caller's thread."""

    name = "ETA recorder"

    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, *, min_change_s: float = 60.0
    ) -> None:
        self._db = db
        self._clock = clock
        self.min_change_s = min_change_s
        self._last: dict[int, tuple[datetime | None, bool, bool]] = {}
        #: The ETA objects of the last event, by stop id (an unchanged one is skipped).
        self._seen: dict[int, StopEta] = {}
        self._pending: list[Change] = []
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._unsubscribe = bus.subscribe(StopEtasChanged, self.on_etas)

    def on_etas(self, event: StopEtasChanged) -> None:
        """Compare only the ETAs that are new objects: a driver's progress recomputes the
        touched routes' ETAs and hands the others on as they were, and comparing all
        10,000 of a fleet's day took ~70 ms of the GUI thread each time (bench/console.py).
        An ETA seen before as this very object cannot give a row now: :func:`changes`
        compares with what was stored, which only a row changes."""
        seen = self._seen
        fresh = {k: eta for k, eta in event.etas.items() if seen.get(k) is not eta}
        self._seen = dict(event.etas)
        found = changes(self._last, fresh, self._clock.now(), self.min_change_s)
        if found:
            with self._lock:
                self._pending += found

    def tick(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self._writer = threading.Thread(
                target=self._write, args=(batch,), name="eta-recorder", daemon=True
            )
            self._writer.start()

    def _write(self, batch: list[Change]) -> None:
        # Short transactions: SQLite has one writer, and the telemetry recorder and the
        # message sender wait for it (at most their busy timeout) while a chunk is written.
        for i in range(0, len(batch), WRITE_CHUNK):
            chunk = batch[i : i + WRITE_CHUNK]
            try:
                with self._db.session() as session:
                    support_repo.append_eta_changes(session, chunk)
            except Exception as exc:  # the record has a gap; the desk goes on
                log.warning("could not record %d ETA change(s): %s", len(chunk), exc)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Write what is queued and wait for it (tests, and :meth:`stop`)."""
        self.tick()
        if self._writer is not None:
            self._writer.join(timeout_s)
        if self._pending:
            self.tick()
            if self._writer is not None:
                self._writer.join(timeout_s)

    def stop(self) -> None:
        self._unsubscribe()
        self.flush()
