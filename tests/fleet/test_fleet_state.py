"""Live fleet state: statuses over time (FakeClock), forward-only live position, bounded trail."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.clock import FakeClock
from dispatcher.fleet import FleetConfig, FleetState, Trail
from dispatcher.model.core import (
    DeliveryEventKind,
    EventReport,
    PositionReport,
    StatusReport,
    VehicleState,
)

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
CONFIG = FleetConfig(
    moving_kmh=3, idle_after_s=300, stale_after_s=600, trail_length=5, sweep_interval_s=1
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fleet() -> FleetState:
    return FleetState(CONFIG)


def fix(
    clock: FakeClock, vid: str = "V1", lat: float = 52.0, speed: float | None = 30.0, age: float = 0
) -> PositionReport:
    return PositionReport(
        vid, clock.now() - timedelta(seconds=age), lat, 4.0, speed_kmh=speed, battery_pct=80
    )


def state(fleet: FleetState, vid: str = "V1") -> VehicleState:
    snap = fleet.get(vid)
    assert snap is not None
    return snap.state


def test_a_vehicle_driving_is_moving(fleet: FleetState, clock: FakeClock) -> None:
    assert fleet.apply_position(fix(clock), clock.now()) is True
    snap = fleet.get("V1")
    assert snap is not None
    assert (snap.state, snap.lat, snap.speed_kmh, snap.battery_pct) == (
        VehicleState.MOVING,
        52.0,
        30.0,
        80,
    )


def test_stopped_then_idle_after_n_minutes(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_position(fix(clock, speed=0), clock.now())
    assert state(fleet) is VehicleState.STOPPED
    clock.advance(minutes=4)
    fleet.apply_position(fix(clock, speed=0.5), clock.now())  # still parked, still reporting
    assert fleet.sweep(clock.now()) == set()
    clock.advance(minutes=1, seconds=1)
    assert fleet.sweep(clock.now()) == {"V1"}
    assert state(fleet) is VehicleState.IDLE
    fleet.apply_position(fix(clock, lat=52.01, speed=25), clock.now())
    assert state(fleet) is VehicleState.MOVING


def test_speed_is_implied_when_the_device_does_not_send_it(
    fleet: FleetState, clock: FakeClock
) -> None:
    fleet.apply_position(fix(clock, speed=None), clock.now())
    clock.advance(60)
    fleet.apply_position(fix(clock, lat=52.009, speed=None), clock.now())  # ~1 km/min
    snap = fleet.get("V1")
    assert snap is not None and snap.state is VehicleState.MOVING
    assert snap.speed_kmh == pytest.approx(60, rel=0.02)


def test_silence_makes_a_vehicle_stale(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_position(fix(clock), clock.now())
    clock.advance(minutes=10, seconds=1)
    assert fleet.sweep(clock.now()) == {"V1"}
    assert state(fleet) is VehicleState.STALE
    fleet.apply_position(fix(clock, lat=52.001), clock.now())
    assert state(fleet) is VehicleState.MOVING


def test_last_will_means_offline_until_it_speaks_again(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_position(fix(clock), clock.now())
    fleet.apply_status(StatusReport("V1", clock.now(), online=False), clock.now())
    assert state(fleet) is VehicleState.OFFLINE
    clock.advance(minutes=30)
    fleet.sweep(clock.now())
    assert state(fleet) is VehicleState.OFFLINE  # offline wins over stale
    fleet.apply_event(EventReport("V1", clock.now(), DeliveryEventKind.ARRIVED, "e"), clock.now())
    assert state(fleet) is not VehicleState.OFFLINE


def test_status_without_a_position_is_unknown(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_status(StatusReport("V9", clock.now(), online=True), clock.now())
    assert state(fleet, "V9") is VehicleState.UNKNOWN


def test_the_live_position_only_moves_forward_in_time(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_position(fix(clock, lat=52.0), clock.now())
    fleet.apply_position(fix(clock, lat=51.0, age=60), clock.now(), out_of_order=True)
    fleet.apply_position(fix(clock, lat=50.0, age=30), clock.now())  # older, even unflagged
    snap = fleet.get("V1")
    assert snap is not None and snap.lat == 52.0
    assert [lat for _, lat, _ in fleet.trail("V1")] == [52.0]


def test_trail_is_bounded_and_oldest_first(fleet: FleetState, clock: FakeClock) -> None:
    for i in range(8):
        clock.advance(10)
        fleet.apply_position(fix(clock, lat=52.0 + i * 0.001), clock.now())
    points = fleet.trail("V1")
    assert len(points) == 5
    assert [round(lat, 3) for _, lat, _ in points] == [52.003, 52.004, 52.005, 52.006, 52.007]
    assert points[-1][0] == clock.now()


def test_sweep_runs_at_most_once_per_interval(fleet: FleetState, clock: FakeClock) -> None:
    fleet.apply_position(fix(clock), clock.now())
    clock.advance(minutes=11)
    assert fleet.sweep(clock.now()) == {"V1"}
    fleet.apply_position(fix(clock, lat=52.01), clock.now())
    clock.advance(minutes=11)
    clock.advance(0)
    assert fleet.sweep(clock.now()) == {"V1"}
    assert fleet.sweep(clock.now()) == set()  # same instant: skipped
    assert fleet.counts()[VehicleState.STALE] == 1


def test_trail_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Trail(0)


def test_ten_thousand_vehicles_stay_far_below_300_mb(clock: FakeClock) -> None:
    fleet = FleetState(FleetConfig(trail_length=100))
    tracemalloc.start()
    try:
        for round_ in range(3):
            now = clock.now() + timedelta(seconds=round_)
            for i in range(10_000):
                report = PositionReport(
                    f"VAN-{i:05d}",
                    now,
                    52.0 + i * 1e-5,
                    4.0,
                    speed_kmh=20.0,
                    heading_deg=90.0,
                    accuracy_m=5.0,
                    battery_pct=50.0,
                    source="native",
                )
                fleet.apply_position(report, now)
        # fill the trails to their bound (the expensive case) without building reports
        for i in range(10_000):
            trail = fleet._vehicles[f"VAN-{i:05d}"].trail
            for k in range(100):
                trail.append(float(k), 52.0, 4.0)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(fleet) == 10_000
    assert current < 60 * 1024 * 1024, f"{current / 2**20:.0f} MiB"
