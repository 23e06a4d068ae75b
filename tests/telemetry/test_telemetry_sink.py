"""The batch writer: batches, acks after commit, retries while the database is away."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

import pytest

from dispatcher.errors import DatabaseUnavailable
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.telemetry.sink import BatchWriter, InMemorySink

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def event(n: int) -> EventReport:
    return EventReport("VAN-1", T0, DeliveryEventKind.DELIVERED, f"e-{n}", stop_id=f"S-{n}")


def position(n: int) -> PositionReport:
    return PositionReport("VAN-1", T0, 52.0 + n * 1e-4, 4.0)


class GatedSink(InMemorySink):
    """Blocks every commit until the test opens the gate; records what was committed when."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write_events(self, batch: Sequence[EventReport]) -> None:
        self.entered.set()
        assert self.gate.wait(10)
        super().write_events(batch)


class FlakySink(InMemorySink):
    """Database unavailable for the first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write_events(self, batch: Sequence[EventReport]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DatabaseUnavailable("server closed the connection")
        super().write_events(batch)


class PoisonSink(InMemorySink):
    def write_events(self, batch: Sequence[EventReport]) -> None:
        if any(e.event_id == "e-2" for e in batch):
            raise ValueError("violates a check constraint")
        super().write_events(batch)


def test_acks_run_only_after_the_commit() -> None:
    sink = GatedSink()
    acked: list[str] = []
    with BatchWriter(sink) as writer:
        writer.submit_event(event(1), lambda: acked.append("e-1"))
        assert sink.entered.wait(5)
        assert acked == []  # the transaction is still open
        sink.gate.set()
        assert writer.flush(5)
    assert acked == ["e-1"]
    assert [e.event_id for e in sink.events] == ["e-1"]


def test_acks_leave_in_arrival_order_including_rejected_messages() -> None:
    sink = InMemorySink()
    order: list[str] = []
    with BatchWriter(sink) as writer:
        writer.submit_event(event(1), lambda: order.append("e-1"))
        writer.submit_ack(lambda: order.append("rejected"))
        writer.submit_event(event(2), lambda: order.append("e-2"))
        assert writer.flush(5)
    assert order == ["e-1", "rejected", "e-2"]


class RecordingSink(InMemorySink):
    """Notes, at each ack, how many positions were committed by then."""

    def __init__(self) -> None:
        super().__init__()
        self.stored_at_ack: list[int] = []

    def ack(self) -> None:
        self.stored_at_ack.append(len(self.positions))


def test_a_qos1_fix_is_acked_only_after_its_commit() -> None:
    """A fix's ack is queued behind it: it left with the events before the fix's batch was
    written, and a recorder killed in between lost a fix the broker thought delivered.
    Also with more fixes queued than one batch holds."""
    sink = RecordingSink()
    writer = BatchWriter(sink, max_batch=100, linger_s=0.5)
    for n in range(350):
        writer.submit_position(position(n))
    writer.submit_ack(sink.ack)  # the PUBACK of fix 349
    writer.submit_position(position(350))
    writer.submit_ack(sink.ack)
    with writer:
        assert writer.flush(5)
    assert sink.stored_at_ack == [351, 351]  # before: [0, 0]
    assert len(sink.positions) == 351


def test_database_outage_is_retried_and_nothing_is_acked_early() -> None:
    sink = FlakySink(failures=2)
    acked = threading.Event()
    with BatchWriter(sink, retry_initial_s=0.01) as writer:
        writer.submit_event(event(1), acked.set)
        assert acked.wait(5)
        assert writer.stats.retries == 2
    assert sink.event_ids() == {"e-1"}


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_poison_event_is_isolated_and_the_others_kept() -> None:
    sink = PoisonSink()
    acks: list[int] = []
    with BatchWriter(sink) as writer:
        for n in (1, 2, 3):
            writer.submit_event(event(n), partial(acks.append, n))
        assert writer.flush(5)
    assert sink.event_ids() == {"e-1", "e-3"}
    assert sorted(acks) == [1, 2, 3]  # the poison one too, or the broker would resend it forever
    assert writer.stats.events_quarantined == 1


def test_positions_beyond_the_bound_drop_the_oldest() -> None:
    sink = InMemorySink()
    writer = BatchWriter(sink, max_queued_positions=3)  # not started: nothing drains
    for n in range(5):
        writer.submit_position(position(n))
    assert writer.stats.positions_dropped == 2
    writer.start()
    assert writer.flush(5)
    writer.stop()
    assert [p.lat for p in sink.positions] == [position(n).lat for n in (2, 3, 4)]


def test_redelivered_events_are_stored_once() -> None:
    sink = InMemorySink()
    with BatchWriter(sink) as writer:
        writer.submit_event(event(1))
        writer.submit_event(event(1))
        assert writer.flush(5)
    assert len(sink.events) == 1


def test_stop_while_the_database_is_down_does_not_ack() -> None:
    sink = FlakySink(failures=10**9)
    acked: list[int] = []
    writer = BatchWriter(sink, retry_initial_s=0.01)
    writer.start()
    writer.submit_event(event(1), lambda: acked.append(1))
    writer.stop(timeout=5)
    assert acked == []
    assert writer.stats.queued_events == 1
