"""The persistence seam of telemetry: a sink Protocol and the worker that feeds it in batches.

The persistence layer implements :class:`TelemetrySink` (SQLAlchemy, one transaction per call);
:class:`BatchWriter` runs it on its own thread so the paho thread and the GUI never wait for
the database. Delivery events arrive at QoS 1 with manual acknowledgement: their completion
callback (which sends the PUBACK) runs only after the batch holding them committed, so a crash
before the commit means the broker delivers them again. Sinks must therefore write events
idempotently (unique ``event_id``).

A failed write is either transient (:class:`~dispatcher.errors.DatabaseError`: the database is
away, locked, busy) and retried with backoff until it works, or poison (anything else, usually
:class:`~dispatcher.errors.RecordRefused`: the database refuses a value). A poison batch is
split in halves until each refused record stands alone; that record is quarantined with its
reason (logged with its content, counted, kept in the decoder's quarantine as
``storage_refused``) and the rest of the batch is stored. A quarantined event is acknowledged
to the broker like a rejected message, or the broker would deliver it again forever and hold
its in-flight slot; it is never counted as stored.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from dispatcher.clock import Clock, SystemClock
from dispatcher.errors import DatabaseError, RecordRefused
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.telemetry.decoder import report_to_dict
from dispatcher.telemetry.filters import Quarantine
from dispatcher.telemetry.rejection import Rejection, RejectReason

log = logging.getLogger(__name__)

Completion = Callable[[], None]
_R = TypeVar("_R", PositionReport, EventReport)


class TelemetrySink(Protocol):
    """Where accepted telemetry is stored. Each call is one transaction."""

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        """Store a batch of fixes (out-of-order ones included: they are history)."""
        ...

    def write_events(self, batch: Sequence[EventReport]) -> None:
        """Store a batch of delivery events; a known ``event_id`` must be ignored, not fail.

        Raise :class:`~dispatcher.errors.DatabaseError` for transient trouble (the batch is
        retried); any other exception (:class:`~dispatcher.errors.RecordRefused` above all)
        marks a poison event, which is isolated and quarantined. The same holds for
        :meth:`write_positions`.
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
    positions_quarantined: int
    events_quarantined: int
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
        quarantine: where records the database refuses are kept with their reason (the
            decoder's, so the dispatcher sees them with the rejected messages).
        clock: stamps quarantined records.
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
        quarantine: Quarantine | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._sink = sink
        self._quarantine = quarantine
        self._clock: Clock = clock or SystemClock()
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
        self._written_p = self._written_e = self._dropped = self._retries = 0
        self._refused_p = self._refused_e = 0

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
                self._refused_p,
                self._refused_e,
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
                n_positions = len(self._positions)
                if not any(report is None for report, _ in events):
                    n_positions = min(n_positions, self._max_batch)
                positions = [pop() for _ in range(n_positions)]
                self._busy = True
            if events and not self._write_events(events):
                return
            for i in range(0, len(positions), self._max_batch):
                if not self._write_positions(positions[i : i + self._max_batch]):
                    return  # stopping with the sink down: the acks below are not sent
            self._complete(events)

    def _write_events(self, items: list[tuple[EventReport | None, Completion | None]]) -> bool:
        """Store the events of ``items``; their completions run later (:meth:`_complete`).

        An ack queued by :meth:`submit_ack` belongs to a message that came before it, maybe
        a QoS 1 fix: the worker took every fix queued so far along with it (the producer
        queued the fix first), and completes the items only after those fixes committed.
        Before, a fix's PUBACK could leave before its commit and a crash lost it.
        """
        batch = [report for report, _ in items if report is not None]
        if batch and not self._store(batch, self._event_batch):
            with self._cond:  # stopping with the sink down: unacked, the broker resends
                self._events.extendleft(reversed(items))
            return False
        return True

    def _complete(self, items: list[tuple[EventReport | None, Completion | None]]) -> None:
        """Run the completions (PUBACKs) of ``items``, in the order they were queued."""
        for _, done in items:
            if done is not None:
                try:
                    done()
                except Exception:
                    log.exception("commit callback failed")

    def _event_batch(self, batch: list[EventReport]) -> None:
        self._sink.write_events(batch)
        with self._cond:
            self._written_e += len(batch)

    def _write_positions(self, batch: list[PositionReport]) -> bool:
        return self._store(batch, self._position_batch)

    def _position_batch(self, batch: list[PositionReport]) -> None:
        self._sink.write_positions(batch)
        with self._cond:
            self._written_p += len(batch)

    def _store(self, batch: list[_R], write: Callable[[list[_R]], None]) -> bool:
        """Write ``batch``, isolating poison records: True when every record is stored or
        quarantined, False when the writer stopped while the database was away."""
        try:
            return self._retrying(lambda: write(batch))
        except Exception as exc:  # not transient: retrying the same records cannot help
            if len(batch) == 1:
                self._set_aside(batch[0], exc)
                return True
        half = len(batch) // 2  # the good half commits; the other is split again
        return self._store(batch[:half], write) and self._store(batch[half:], write)

    def _set_aside(self, report: PositionReport | EventReport, exc: Exception) -> None:
        """Quarantine one record the storage refuses: logged in full, counted, kept."""
        kind = "event" if type(report) is EventReport else "position"
        reason = exc.reason if isinstance(exc, RecordRefused) else f"{type(exc).__name__}: {exc}"
        record = json.dumps(report_to_dict(report), default=str)
        log.error(
            "%s of %s refused by storage (%s), quarantined: %s",
            kind,
            report.vehicle_id,
            reason,
            record,
        )
        with self._cond:
            if kind == "event":
                self._refused_e += 1
            else:
                self._refused_p += 1
        if self._quarantine is not None:
            self._quarantine.add(
                f"storage/{kind}/{report.vehicle_id}",
                record.encode("utf-8", "backslashreplace"),
                Rejection(RejectReason.STORAGE_REFUSED, reason),
                self._clock.now(),
            )

    def _retrying(self, action: Callable[[], None]) -> bool:
        """Run ``action`` until it succeeds (True) or the writer stops while failing (False).

        Only transient errors (:class:`DatabaseError`) are retried, with exponential backoff;
        any other exception propagates at once (poison).
        """
        retrying = Retrying(
            retry=retry_if_exception_type(DatabaseError),
            wait=wait_exponential(multiplier=self._retry_initial, max=self._retry_max),
            stop=stop_when_event_set(self._stop),
            sleep=self._pause,
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            retrying(action)
        except DatabaseError:
            return False  # stopped while the database is still away
        return True

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)  # stop() ends the wait at once

    def _count_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning("telemetry sink failed (%s); retrying in %.1f s", exc, delay)
        with self._cond:
            self._retries += 1
