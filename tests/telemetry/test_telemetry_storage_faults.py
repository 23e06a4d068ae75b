"""Issue 15, finding 1: one message PostgreSQL refuses must not stall telemetry storage.

Before: a 64-character vehicle id (valid in the protocol) did not fit ``VARCHAR(40)``; the
position sink retried the batch forever (0 of the next 50 positions and 0 of the next 50 QoS 1
events stored), and the event sink dropped the refused event and counted nothing. Now the
columns take what the protocol takes, and a record the database refuses is quarantined with
its reason while the rest of its batch is stored. Real SQLite and PostgreSQL throughout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from dispatcher import limits
from dispatcher.clock import FakeClock
from dispatcher.events import EventBus
from dispatcher.fleet import FleetState
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PositionRow, VehicleEventRow
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.telemetry.decoder import build_decoder
from dispatcher.telemetry.filters import Quarantine
from dispatcher.telemetry.ingest import IngestPipeline
from dispatcher.telemetry.rejection import Rejection, RejectReason
from dispatcher.telemetry.sink import BatchWriter

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
LONG_VEHICLE = "V" * limits.VEHICLE_ID
LONG_EVENT = "e" * limits.EVENT_ID


def stored(db: Database) -> tuple[set[str], set[str], int]:
    """(vehicle ids with positions, event ids, number of positions) in the database."""
    with db.session() as session:
        vehicles = set(session.scalars(select(PositionRow.vehicle_id).distinct()))
        events = set(session.scalars(select(VehicleEventRow.event_id)))
        count = session.scalar(select(func.count()).select_from(PositionRow)) or 0
    return vehicles, events, count


def position_message(vehicle: str, n: int) -> tuple[str, bytes]:
    payload = {"v": 1, "ts": (T0 + timedelta(seconds=n)).timestamp(), "lat": 52.0 + n * 1e-5}
    return f"fleet/vehicles/{vehicle}/position", json.dumps({**payload, "lon": 4.0}).encode()


def event_message(vehicle: str, event_id: str, **extra: object) -> tuple[str, bytes]:
    payload = {"v": 1, "event_id": event_id, "kind": "arrived", "ts": T0.timestamp(), **extra}
    return f"fleet/vehicles/{vehicle}/event", json.dumps(payload).encode()


def test_the_longest_ids_the_protocol_accepts_are_stored(database: Database) -> None:
    clock = FakeClock(T0 + timedelta(minutes=5))
    decoder = build_decoder(clock=clock)
    acked: list[str] = []
    with BatchWriter(SqlTelemetrySink(database), quarantine=decoder.quarantine) as writer:
        pipeline = IngestPipeline(decoder, FleetState(), EventBus(), clock, writer=writer)
        assert pipeline.on_message(*position_message(LONG_VEHICLE, 1)) is None
        event = event_message(
            LONG_VEHICLE, LONG_EVENT, stop_id="S" * limits.ORDER_ID, reason="r" * limits.REASON
        )
        assert pipeline.on_message(*event, ack=lambda: acked.append("event")) is None
        assert writer.flush(10)
    assert stored(database) == ({LONG_VEHICLE}, {LONG_EVENT}, 1)
    assert acked == ["event"]
    assert decoder.quarantine.total == 0


def test_a_nul_byte_is_rejected_at_the_door_and_the_next_50_and_50_are_stored(
    database: Database,
) -> None:
    clock = FakeClock(T0 + timedelta(minutes=5))
    decoder = build_decoder(clock=clock)
    acked: list[str | int] = []
    with BatchWriter(SqlTelemetrySink(database), quarantine=decoder.quarantine) as writer:
        pipeline = IngestPipeline(decoder, FleetState(), EventBus(), clock, writer=writer)
        poison = event_message("VAN-1", "bad", note="ring\x00twice")
        rejection = pipeline.on_message(*poison, ack=lambda: acked.append("bad"))
        for n in range(50):
            pipeline.on_message(*position_message("VAN-1", n))
            pipeline.on_message(*event_message("VAN-1", f"ok-{n}"), ack=partial(acked.append, n))
        assert writer.flush(10)
    assert isinstance(rejection, Rejection) and "NUL" in rejection.detail
    _, events, count = stored(database)
    assert count == 50 and events == {f"ok-{n}" for n in range(50)}
    [entry] = decoder.quarantine.entries()
    assert entry.reason is RejectReason.BAD_VALUE and b"ring\\u0000twice" in entry.payload
    assert acked == ["bad", *range(50)]  # in order; the rejected one is never stored


def naive(report: PositionReport | EventReport) -> datetime:
    return report.ts.replace(tzinfo=None)


#: Records a database refuses, and on which backends (SQLite stores NUL and any length).
POISONS: dict[
    str,
    tuple[set[str], Callable[[PositionReport, EventReport], tuple[PositionReport, EventReport]]],
] = {
    "nul_byte": (
        {"postgresql"},
        lambda p, e: (
            PositionReport("VAN\x00X", p.ts, p.lat, p.lon),
            EventReport("VAN-1", e.ts, e.kind, "poison", note="ring\x00twice"),
        ),
    ),
    "too_long": (
        {"postgresql"},
        lambda p, e: (
            PositionReport("V" * (limits.VEHICLE_ID + 1), p.ts, p.lat, p.lon),
            EventReport("VAN-1", e.ts, e.kind, "p" * (limits.EVENT_ID + 1)),
        ),
    ),
    "time_without_zone": (
        {"postgresql", "sqlite"},
        lambda p, e: (
            PositionReport("VAN-1", naive(p), p.lat, p.lon),
            EventReport("VAN-1", naive(e), e.kind, "poison"),
        ),
    ),
}


@pytest.mark.allow_error_logs  # each refused record is logged at ERROR, with its content
@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_refused_record_is_quarantined_and_the_rest_of_its_batch_stored(
    database: Database, poison: str
) -> None:
    backends, build = POISONS[poison]
    refused = database.backend in backends  # SQLite stores NUL bytes and any length
    good_p = [PositionReport("VAN-1", T0 + timedelta(seconds=n), 52.0, 4.0) for n in range(50)]
    good_e = [EventReport("VAN-1", T0, DeliveryEventKind.ARRIVED, f"ok-{n}") for n in range(50)]
    bad_p, bad_e = build(good_p[0], good_e[0])
    quarantine = Quarantine()
    acked: list[str] = []
    writer = BatchWriter(SqlTelemetrySink(database), quarantine=quarantine, retry_initial_s=0.01)
    # Queued before the worker starts: the poison sits in the middle of one batch per kind.
    for position in [*good_p[:25], bad_p, *good_p[25:]]:
        writer.submit_position(position)
    for event in [*good_e[:25], bad_e, *good_e[25:]]:
        writer.submit_event(event, partial(acked.append, event.event_id))
    writer.start()
    try:
        assert writer.flush(20), "storage stalled behind the poison record"
    finally:
        writer.stop()
    vehicles, events, count = stored(database)
    if not refused:
        assert count == 51 and len(events) == 51 and not quarantine.entries()
        return
    assert count == 50 and vehicles == {"VAN-1"}
    assert events == {f"ok-{n}" for n in range(50)}
    stats = writer.stats
    assert (stats.positions_written, stats.positions_quarantined) == (50, 1)
    assert (stats.events_written, stats.events_quarantined) == (50, 1)
    entries = quarantine.entries()
    assert [e.reason for e in entries] == [RejectReason.STORAGE_REFUSED] * 2
    assert {e.topic.split("/")[1] for e in entries} == {"position", "event"}
    assert all(e.detail for e in entries)
    # Every PUBACK leaves (the broker must not redeliver a record that can never be stored),
    # but the refused event is counted as quarantined, never as stored.
    assert sorted(acked) == sorted([*(e.event_id for e in good_e), bad_e.event_id])
