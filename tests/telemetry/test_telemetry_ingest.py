"""Ingest: paho thread → bounded queue → drain per tick → fleet state → one event per tick."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from dispatcher.clock import FakeClock
from dispatcher.events import EventBus
from dispatcher.fleet import FleetChanged, FleetState
from dispatcher.model.core import VehicleState
from dispatcher.telemetry.decoder import Decoder
from dispatcher.telemetry.ingest import IngestPipeline
from dispatcher.telemetry.rejection import Rejection
from dispatcher.telemetry.sink import BatchWriter, InMemorySink


def pos(
    clock: FakeClock, vid: str, dt: float = 0.0, lat: float = 52.0, **extra: object
) -> tuple[str, bytes]:
    ts = (clock.now() + timedelta(seconds=dt)).timestamp()
    payload = {"v": 1, "ts": ts, "lat": lat, "lon": 4.0, **extra}
    return f"fleet/vehicles/{vid}/position", json.dumps(payload).encode()


def evt(clock: FakeClock, vid: str, event_id: str) -> tuple[str, bytes]:
    payload = {"v": 1, "event_id": event_id, "kind": "delivered", "ts": clock.now().timestamp()}
    return f"fleet/vehicles/{vid}/event", json.dumps(payload).encode()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def published(bus: EventBus) -> list[object]:
    seen: list[object] = []
    bus.subscribe(FleetChanged, seen.append)
    return seen


def make(decoder: Decoder, bus: EventBus, clock: FakeClock, **kw: Any) -> IngestPipeline:
    return IngestPipeline(decoder, FleetState(), bus, clock, **kw)


def test_many_messages_one_change_event_per_tick(
    decoder: Decoder, bus: EventBus, clock: FakeClock, published: list[object]
) -> None:
    pipeline = make(decoder, bus, clock)
    for i in range(50):
        pipeline.on_message(*pos(clock, f"V{i % 5}", dt=-i, speed_kmh=30))
    result = pipeline.drain()
    assert result.positions == 50
    [changed] = published
    assert isinstance(changed, FleetChanged)
    assert changed.vehicle_ids == frozenset(f"V{i}" for i in range(5))
    assert pipeline.fleet.get("V0") is not None
    assert pipeline.drain().changed == frozenset()  # quiet tick, nothing published
    assert len(published) == 1


def test_overload_drops_oldest_positions_never_events(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    pipeline = make(decoder, bus, clock, max_queued_positions=10)
    pipeline.on_message(*evt(clock, "V1", "e-0"))
    for i in range(100):
        pipeline.on_message(*pos(clock, f"V{i}"))
    pipeline.on_message(*evt(clock, "V1", "e-1"))
    assert pipeline.stats.dropped_positions == 90
    result = pipeline.drain()
    assert result.positions == 10
    assert [e.event_id for e in result.events] == ["e-0", "e-1"]
    assert "V99" in pipeline.fleet and "V0" not in pipeline.fleet


def test_status_and_positions_apply_in_arrival_order(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    pipeline = make(decoder, bus, clock)
    offline = b'{"v":1,"state":"offline"}'
    pipeline.on_message(*pos(clock, "V1", dt=-2))
    pipeline.on_message("fleet/vehicles/V1/status", offline)
    pipeline.on_message(*pos(clock, "V1", dt=-1, lat=52.0001))  # back online
    result = pipeline.drain()
    assert (result.positions, result.statuses) == (2, 1)
    snap = pipeline.fleet.get("V1")
    assert snap is not None and snap.state is not VehicleState.OFFLINE
    pipeline.on_message("fleet/vehicles/V1/status", offline)
    pipeline.drain()
    snap = pipeline.fleet.get("V1")
    assert snap is not None and snap.state is VehicleState.OFFLINE


def test_redelivered_events_are_applied_once(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    pipeline = make(decoder, bus, clock)
    pipeline.on_message(*evt(clock, "V1", "e-7"))
    first = pipeline.drain()
    pipeline.on_message(*evt(clock, "V1", "e-7"))
    assert [e.event_id for e in first.events] == ["e-7"] and pipeline.drain().events == ()


def test_rejections_are_acked_at_once_without_a_writer(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    pipeline = make(decoder, bus, clock)
    acked = threading.Event()
    result = pipeline.on_message("fleet/vehicles/V1/event", b"junk", acked.set)
    assert isinstance(result, Rejection) and acked.is_set()
    assert pipeline.stats.rejected == 1 and pipeline.stats.received == 1


def test_with_a_writer_events_are_acked_after_storage(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    sink = InMemorySink()
    with BatchWriter(sink) as writer:
        pipeline = make(decoder, bus, clock, writer=writer)
        acked = threading.Event()
        pipeline.on_message(*evt(clock, "V1", "e-1"), acked.set)
        pipeline.on_message(*pos(clock, "V1"))
        pipeline.on_message(*pos(clock, "V1", dt=-30, lat=52.0005))  # out of order: stored too
        assert acked.wait(5)
        assert writer.flush(5)
    assert sink.event_ids() == {"e-1"}
    assert len(sink.positions) == 2


def test_headless_loop_drains_until_stopped(
    decoder: Decoder, bus: EventBus, clock: FakeClock
) -> None:
    pipeline = make(decoder, bus, clock)
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop, 0.01))
    worker.start()
    pipeline.on_message(*pos(clock, "V1"))
    stop.set()
    worker.join(5)
    assert "V1" in pipeline.fleet


def test_a_window_collects_garbage_in_fewer_shorter_pauses() -> None:
    """favour_the_gui: the 2-ms GIL hand-over and the GUI's GC thresholds (issue 17)."""
    import gc
    import sys

    from dispatcher.telemetry import ingest

    before, interval = gc.get_threshold(), sys.getswitchinterval()
    wanted = ingest._wanted_s[0]
    try:
        ingest.favour_the_gui()
        assert gc.get_threshold() == ingest.GUI_GC_THRESHOLDS
        assert sys.getswitchinterval() == ingest.GUI_SWITCH_INTERVAL_S
    finally:
        gc.set_threshold(*before)
        sys.setswitchinterval(interval)
        ingest._wanted_s[0] = wanted
