"""Ingest: paho thread → bounded queue → one drain per tick → fleet state → one event per tick.

:meth:`IngestPipeline.on_message` runs on the paho network thread: it decodes and filters the
message, hands accepted reports to the :class:`~dispatcher.telemetry.sink.BatchWriter` (storage)
and to a bounded queue (live view). Under overload the queue drops its *oldest positions*
(counted; the newer fix supersedes them) and never drops events or status changes.

:meth:`IngestPipeline.drain` runs on the GUI thread's ~200 ms timer (or the headless loop):
it applies everything queued to the :class:`~dispatcher.fleet.FleetState` in arrival order and
publishes at most one :class:`~dispatcher.fleet.FleetChanged` per tick, whatever the message
rate; the tick's delivery events are in its :class:`DrainResult` (stored by the writer, read
by the route boards from the database).
"""

from __future__ import annotations

import gc
import heapq
import itertools
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TypeVar

from dispatcher.clock import Clock
from dispatcher.events import EventBus
from dispatcher.fleet.state import FleetChanged, FleetState
from dispatcher.model.core import EventReport, PositionReport, StatusReport
from dispatcher.telemetry.decoder import Decoder
from dispatcher.telemetry.rejection import Rejection
from dispatcher.telemetry.sink import BatchWriter

Ack = Callable[[], None]
_T = TypeVar("_T")
_Item = tuple[int, PositionReport | EventReport | StatusReport, bool]
_Fix = tuple[int, PositionReport, bool]


GIL_SWITCH_INTERVAL_S = 0.02
"""How long a thread may keep the GIL while another waits for it (CPython's default: 5 ms)."""


GUI_SWITCH_INTERVAL_S = 0.002
"""The console's interval (:func:`favour_the_gui`): its GUI thread re-takes the GIL for every
cell Qt paints and every signal into Python, and each time waited up to the interval while the
simulator or the ingest threads ran. ``bench/console.py`` at 500 vehicles (2 shared cores):
p50 lateness 21 ms at 20 ms, 4 ms at 2 ms; p99 620 ms and 354 ms; first paint 12 s and 8 s.
The fleet's messages are far below the ingest's capacity at either interval."""

GUI_GC_THRESHOLDS = (10_000, 10, 100)
"""The console's garbage-collector thresholds (:func:`favour_the_gui`; CPython's default:
700, 10, 10). A collection holds the GIL, so the GUI thread waits it out whichever thread
ran it. At 500 vehicles the workers build plans, ETA tables and KPI records of 10,000 stops
every few seconds; at the default thresholds their objects were promoted to the oldest
generation as they were built, and a full collection of it ran about once a second, each
130 to 410 ms (bench/console.py, 8 s window: 9 of them, the worst one the window's worst
lateness). Ten times fewer young collections promote far fewer of those transient objects,
and a full collection waits for 100 middle ones instead of 10: none ran in the same
window. Objects freed by reference counting never count towards a collection, so what waits
longer is only cyclic garbage and the objects that really stay."""

#: The interval :func:`tune_switch_interval` sets (a window lowers it: :func:`favour_the_gui`).
_wanted_s = [GIL_SWITCH_INTERVAL_S]


def favour_the_gui() -> None:
    """A process with a window: hand the GIL over after 2 ms, now and after every
    :func:`tune_switch_interval` (the live link calls it each time it starts), and collect
    garbage in fewer, shorter pauses (:data:`GUI_GC_THRESHOLDS`)."""
    _wanted_s[0] = GUI_SWITCH_INTERVAL_S
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    gc.set_threshold(*GUI_GC_THRESHOLDS)


def tune_switch_interval() -> None:
    """Let threads keep the GIL for 20 ms instead of 5 ms before handing it over.

    The network thread, the database writer and the GUI (or headless) drain all run Python;
    every forced hand-over costs cache and wake-up time. Measured with ``bench/ingest.py``'s
    full ingest (2 cores, 10,000 vehicles, means of 9 interleaved runs): 27,300 positions/s
    at 5 ms, 28,400 at 20 ms (+4 %); 1 ms was clearly worse (21,600). The longest the GUI can
    wait for the GIL under a full ingest load stays far below what a person notices, and a
    mostly idle network thread (a real fleet) releases it at once anyway. Never lowers a
    longer interval someone chose; a console's window chose 2 ms (:func:`favour_the_gui`).
    """
    if sys.getswitchinterval() < _wanted_s[0]:
        sys.setswitchinterval(_wanted_s[0])


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one tick applied (for the headless loop, logs and tests)."""

    positions: int
    events: tuple[EventReport, ...]
    statuses: int
    changed: frozenset[str]
    state_changed: frozenset[str]


@dataclass(frozen=True, slots=True)
class IngestStats:
    """Counters since start, for the status bar."""

    received: int
    accepted: int
    rejected: int
    dropped_positions: int
    queued: int


class IngestQueue:
    """Bounded hand-over between the paho thread and the drain; drop-oldest for positions.

    Lock-free on purpose (it is on the per-message path): ``deque.append`` and ``popleft``
    are atomic, the producer only appends (and pops the oldest on overflow), the consumer
    only pops. Designed for one producer thread (paho's) and one consumer (the drain).
    """

    def __init__(self, max_positions: int = 100_000) -> None:
        self._positions: deque[_Fix] = deque()
        self._others: deque[_Item] = deque()
        self._max = max_positions
        self._next_seq = itertools.count().__next__
        self.dropped = 0

    def put(self, report: PositionReport | EventReport | StatusReport, flag: bool = False) -> None:
        """Queue a report; positions beyond the bound push out the oldest position."""
        seq = self._next_seq()
        if type(report) is PositionReport:
            positions = self._positions
            if len(positions) >= self._max:
                try:
                    positions.popleft()
                    self.dropped += 1
                except IndexError:  # the drain emptied it meanwhile
                    pass
            positions.append((seq, report, flag))
        else:
            self._others.append((seq, report, flag))

    def take(self) -> tuple[list[_Fix], list[_Item]]:
        """Everything queued so far as (positions, others), each in arrival order."""
        return _pop_all(self._positions), _pop_all(self._others)

    def __len__(self) -> int:
        return len(self._positions) + len(self._others)


def _pop_all(queue: deque[_T]) -> list[_T]:
    out: list[_T] = []
    pop = queue.popleft
    for _ in range(len(queue)):
        out.append(pop())
    return out


class IngestPipeline:
    """The live telemetry path of the console.

    Args:
        decoder: adapters + filters + quarantine (paho thread only).
        fleet: the live state (drain thread only).
        bus: where ``FleetChanged`` is published (drain thread).
        clock: receive times and tick times.
        writer: storage; without one, QoS 1 messages are acknowledged at once.
        max_queued_positions: bound of the live queue.
        event_memory: how many event ids are remembered to drop redeliveries from the view.
    """

    def __init__(
        self,
        decoder: Decoder,
        fleet: FleetState,
        bus: EventBus,
        clock: Clock,
        *,
        writer: BatchWriter | None = None,
        max_queued_positions: int = 100_000,
        event_memory: int = 10_000,
    ) -> None:
        self.decoder = decoder
        self.fleet = fleet
        self._bus = bus
        self._clock = clock
        self._writer = writer
        self.queue = IngestQueue(max_queued_positions)
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._event_memory = event_memory
        self._received = 0

    # -- paho thread ----------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes, ack: Ack | None = None) -> Rejection | None:
        """Decode one message and hand it on; returns the rejection, or ``None`` if accepted.

        ``ack`` sends the PUBACK of a QoS 1 message. The ack of an event runs after its commit;
        any other ack is queued behind the events before it, so acknowledgements leave in the
        order the messages came.
        """
        self._received += 1
        result = self.decoder.decode_fast(topic, payload, self._clock.now())
        if isinstance(result, Rejection):
            self._ack_in_order(ack)
            return result
        report, _, out_of_order = result
        self.queue.put(report, out_of_order)
        writer = self._writer
        if type(report) is PositionReport:
            if writer is not None:
                writer.submit_position(report)
        elif type(report) is EventReport:
            if writer is not None:
                writer.submit_event(report, ack)
            elif ack is not None:
                ack()
            return None
        if ack is not None:
            self._ack_in_order(ack)
        return None

    def _ack_in_order(self, ack: Ack | None) -> None:
        if ack is None:
            return
        if self._writer is None:
            ack()
        else:
            self._writer.submit_ack(ack)

    # -- drain thread (GUI tick / headless loop) ------------------------------------------
    def drain(self, now: datetime | None = None) -> DrainResult:
        """Apply everything queued to the fleet and publish one batched change event."""
        now = now or self._clock.now()
        positions, others = self.queue.take()
        events: list[EventReport] = []
        statuses = 0
        if others:  # rare: events and status changes interleave with fixes in arrival order
            changed, state_changed, statuses = self._apply_in_order(positions, others, now, events)
        else:  # the common tick: fixes only, applied in one tight loop
            fixes = ((report, flag) for _, report, flag in positions)
            changed, state_changed = self.fleet.apply_positions(fixes, now)
        swept = self.fleet.sweep(now)
        changed |= swept
        state_changed |= swept
        result = DrainResult(
            len(positions),
            tuple(events),
            statuses,
            frozenset(changed),
            frozenset(state_changed),
        )
        if changed:
            self._bus.publish(FleetChanged(result.changed, result.state_changed))
        return result

    def _apply_in_order(
        self, positions: list[_Fix], others: list[_Item], now: datetime, events: list[EventReport]
    ) -> tuple[set[str], set[str], int]:
        """Apply a mixed tick in arrival order; new events are appended to ``events``."""
        fleet = self.fleet
        changed: set[str] = set()
        state_changed: set[str] = set()
        statuses = 0
        merged: Iterable[_Item] = heapq.merge(positions, others, key=itemgetter(0))
        for _, report, flag in merged:
            vid = report.vehicle_id
            changed.add(vid)
            if type(report) is PositionReport:
                moved = fleet.apply_position(report, now, out_of_order=flag)
            elif type(report) is EventReport:
                moved = fleet.apply_event(report, now)
                if self._first_time(report.event_id):
                    events.append(report)
            else:
                assert isinstance(report, StatusReport)
                statuses += 1
                moved = fleet.apply_status(report, now)
            if moved:
                state_changed.add(vid)
        return changed, state_changed, statuses

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        """Headless loop: drain every ``interval_s`` until ``stop`` is set (then once more)."""
        while not stop.wait(interval_s):
            self.drain()
        self.drain()

    @property
    def stats(self) -> IngestStats:
        """Counters since start."""
        return IngestStats(
            received=self._received,
            accepted=self.decoder.accepted,
            rejected=self.decoder.quarantine.total,
            dropped_positions=self.queue.dropped,
            queued=len(self.queue),
        )

    def _first_time(self, event_id: str) -> bool:
        seen = self._seen_events
        if event_id in seen:
            return False
        seen[event_id] = None
        if len(seen) > self._event_memory:
            seen.popitem(last=False)
        return True
