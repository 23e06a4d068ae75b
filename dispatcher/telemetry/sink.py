"""The persistence seam of telemetry: a sink Protocol and the worker that feeds it in batches.

The persistence layer implements :class:`TelemetrySink` (SQLAlchemy, one transaction per call);
:class:`BatchWriter` runs it on its own thread so the paho thread and the GUI never wait for
the database. Delivery events arrive at QoS 1 with manual acknowledgement: their completion
callback (which sends the PUBACK) runs only after the batch holding them committed, so a crash
before the commit means the broker delivers them again. Sinks must therefore write events
idempotently (unique ``event_id``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dispatcher.errors import DatabaseError
from dispatcher.model.core import EventReport, PositionReport

log = logging.getLogger(__name__)

Completion = Callable[[], None]


class TelemetrySink(Protocol):
    """Where accepted telemetry is stored. Each call is one transaction."""

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        """Store a batch of fixes (out-of-order ones included: they are history)."""
        ...

    def write_events(self, batch: Sequence[EventReport]) -> None:
        """Store a batch of delivery events; a known ``event_id`` must be ignored, not fail.

        Raise :class:`~dispatcher.errors.DatabaseError` for transient trouble (the batch is
        retried); any other exception marks a poison event, which is isolated and dropped.
        """
        ...


class InMemorySink:
    """A sink for tests and demos: lists in memory, idempotent on ``event_id``."""

    def __init__(self) -> None:
        self.positions: list[PositionReport] = []
        self.events: list[EventReport] = []
        self._event_ids: set[str] = set()
        self.commits = 0
        self._lock = threading.Lock()

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        with self._lock:
            self.positions.extend(batch)
            self.commits += 1

    def write_events(self, batch: Sequence[EventReport]) -> None:
        with self._lock:
            for event in batch:
                if event.event_id not in self._event_ids:
                    self._event_ids.add(event.event_id)
                    self.events.append(event)
            self.commits += 1

    def event_ids(self) -> set[str]:
        """The distinct event ids stored so far."""
        with self._lock:
            return set(self._event_ids)


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of the batch writer (for the status bar and the bench)."""

    positions_written: int
    events_written: int
    positions_dropped: int
    events_failed: int
    retries: int
    queued_positions: int
    queued_events: int


class BatchWriter:
    """Collects reports from any thread and writes them in batches on a worker thread.

    Args:
        sink: the storage.
        max_batch: upper bound of one transaction (per kind).
        max_queued_positions: beyond this the oldest queued positions are dropped (counted);
            events are never dropped.
        retry_initial_s / retry_max_s: backoff while the database is unavailable.
        linger_s: when only a few positions are waiting, wait this long for more, so that a
            stream of messages makes a few large transactions instead of many tiny ones
            (events never linger: their acknowledgement waits on the commit).
    """

    def __init__(
        self,
        sink: TelemetrySink,
        *,
        max_batch: int = 2000,
        max_queued_positions: int = 200_000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        linger_s: float = 0.05,
    ) -> None:
        self._sink = sink
        self._max_batch = max_batch
        self._positions: deque[PositionReport] = deque()
        self._max_positions = max_queued_positions
        self._events: deque[tuple[EventReport | None, Completion | None]] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_initial = retry_initial_s
        self._retry_max = retry_max_s
        self._linger = linger_s
        self._busy = False
        self._written_p = self._written_e = self._dropped = self._failed_e = self._retries = 0

    # -- producers (any thread) -----------------------------------------------------------
    def submit_position(self, report: PositionReport) -> None:
        """Queue a fix; drops the oldest queued fix when the queue is full.

        Lock-free and without a wake-up (this is on the per-message path): the worker
        collects positions every ``linger_s``. Meant for one producer thread.
        """
        positions = self._positions
        if len(positions) >= self._max_positions:
            try:
                positions.popleft()
                self._dropped += 1
            except IndexError:  # the worker took them meanwhile
                pass
        positions.append(report)

    def submit_event(self, report: EventReport, on_committed: Completion | None = None) -> None:
        """Queue a delivery event; ``on_committed`` runs after its transaction committed."""
        with self._cond:
            self._events.append((report, on_committed))
            self._cond.notify()

    def submit_ack(self, on_committed: Completion) -> None:
        """Run ``on_committed`` after everything queued before it: keeps PUBACKs in order."""
        with self._cond:
            self._events.append((None, on_committed))
            self._cond.notify()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (while the sink works), then stop the worker."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> BatchWriter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until the queues are empty (True) or ``timeout`` passed (False)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._positions and not self._events and not self._busy, timeout
            )

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._cond:
            return WriterStats(
                self._written_p,
                self._written_e,
                self._dropped,
                self._failed_e,
                self._retries,
                len(self._positions),
                len(self._events),
            )

    # -- worker ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                if not self._positions and not self._events:
                    if self._stop.is_set():
                        return
                    self._cond.wait(self._linger)  # events and stop() wake us at once
                    continue
                linger = not self._events and len(self._positions) < self._max_batch
            if linger and not self._stop.is_set():
                self._stop.wait(self._linger)  # let a stream of fixes make one big batch
            with self._cond:
                n_events = min(len(self._events), self._max_batch)
                events = [self._events.popleft() for _ in range(n_events)]
                pop = self._positions.popleft
                positions = [pop() for _ in range(min(len(self._positions), self._max_batch))]
                self._busy = True
            if events and not self._write_events(events):
                return
            if positions and not self._write_positions(positions):
                return

    def _write_events(self, items: list[tuple[EventReport | None, Completion | None]]) -> bool:
        batch = [report for report, _ in items if report is not None]
        if batch and not self._retrying(lambda: self._events_or_isolate(batch)):
            with self._cond:  # stopping with the sink down: unacked, the broker resends
                self._events.extendleft(reversed(items))
            return False
        for _, done in items:
            if done is not None:
                try:
                    done()
                except Exception:
                    log.exception("commit callback failed")
        return True

    def _events_or_isolate(self, batch: list[EventReport]) -> None:
        try:
            self._sink.write_events(batch)
        except DatabaseError:
            raise
        except Exception:
            if len(batch) == 1:
                log.exception("event %s cannot be stored; dropped", batch[0].event_id)
                with self._cond:
                    self._failed_e += 1
                return
            for event in batch:  # find the poison one, keep the others
                self._events_or_isolate([event])
            return
        with self._cond:
            self._written_e += len(batch)

    def _write_positions(self, batch: list[PositionReport]) -> bool:
        def write() -> None:
            self._sink.write_positions(batch)
            with self._cond:
                self._written_p += len(batch)

        return self._retrying(write)

    def _retrying(self, action: Callable[[], None]) -> bool:
        """Run ``action`` until it succeeds (True) or the writer stops while failing (False)."""
        delay = self._retry_initial
        while True:
            try:
                action()
                return True
            except Exception as exc:
                log.warning("telemetry sink failed (%s); retrying in %.1f s", exc, delay)
                with self._cond:
                    self._retries += 1
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, self._retry_max)
