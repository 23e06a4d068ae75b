"""The simulated fleet speaks the documented protocol: every message it publishes through a
day is accepted by the console's own decoder, and the trouble it scripts really happens."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fleet_zone import DAY, demo_day, local

from dispatcher.clock import FakeClock
from dispatcher.model import EventReport, PositionReport, StatusReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.simulator.from_db import load_simulated_fleet
from dispatcher.simulator.runner import FleetSimulator, wall_clock_stamp
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, Decoder, default_adapters


@pytest.fixture
def fleet_db(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    yield db
    db.dispose()


def run_day(db: Database, seed: int = 7, step_s: int = 30, until: datetime | None = None):
    vehicles, scripts = load_simulated_fleet(db, seed)
    with db.session() as session:
        bindings = DeviceBindings(fleet_repo.device_bindings(session))
    clock = FakeClock(local(6, 55))
    decoder = Decoder(default_adapters(bindings), clock=clock)
    results: list[Accepted | object] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        results.append(decoder.decode(topic, payload, clock.now()))

    sim = FleetSimulator(vehicles, scripts, publish, clock)
    while clock.now() < (until or local(20, 0)):
        sim.step(clock.now())
        clock.advance(step_s)
    return vehicles, results


def test_every_simulated_message_is_accepted(fleet_db: Database) -> None:
    vehicles, results = run_day(fleet_db)
    rejected = [r for r in results if not isinstance(r, Accepted)]
    assert not rejected, rejected[:3]
    reports = [r.report for r in results if isinstance(r, Accepted)]
    assert {r.vehicle_id for r in reports if isinstance(r, PositionReport)} == {
        v.vehicle_id for v in vehicles
    }
    sources = {r.source for r in reports if isinstance(r, PositionReport)}
    assert sources == {"native", "owntracks"}


def test_a_hundred_vehicles_publish_with_no_message_rejected(sqlite_url: str) -> None:
    """``demo --vehicles 100 --stops 2500``: every vehicle speaks as a device of its own.

    Phones were named after drivers' first names, which repeated past twelve vehicles: 1,000
    of 5,150 messages were rejected as another device's (jumps and duplicates of the one
    vehicle a shared phone name was bound to)."""
    db = Database(sqlite_url)
    try:
        with db.session() as session:
            fleet_repo.save_scenario(session, demo_day(DAY, n_vehicles=100, n_orders=2500))
        vehicles, results = run_day(db, step_s=60, until=local(11, 0))
        phones = [v.owntracks for v in vehicles if v.owntracks]
    finally:
        db.dispose()
    assert len(vehicles) == 100 and len(phones) == 33
    assert len(set(phones)) == 33, "one phone per vehicle"
    rejected = [r for r in results if not isinstance(r, Accepted)]
    assert not rejected, (len(rejected), len(results), rejected[:3])
    reports = [r.report for r in results if isinstance(r, Accepted)]
    by_source = {(r.source, r.vehicle_id) for r in reports if isinstance(r, PositionReport)}
    assert {vid for _, vid in by_source} == {v.vehicle_id for v in vehicles}
    assert len(results) > 20_000


def test_the_day_has_deliveries_a_failure_and_an_offline_vehicle(fleet_db: Database) -> None:
    _, results = run_day(fleet_db)
    reports = [r.report for r in results if isinstance(r, Accepted)]
    kinds = [r.kind.value for r in reports if isinstance(r, EventReport)]
    assert kinds.count("delivered") > 200
    assert kinds.count("failed") >= 1
    assert "picked_up" in kinds
    offline = [r for r in reports if isinstance(r, StatusReport) and not r.online]
    assert len(offline) == 1


def test_same_seed_same_day(fleet_db: Database) -> None:
    _, a = load_simulated_fleet(fleet_db, 7)
    _, b = load_simulated_fleet(fleet_db, 7)
    _, c = load_simulated_fleet(fleet_db, 8)
    assert a["V01"].events == b["V01"].events
    assert any(a[v].events != c[v].events for v in a)


def test_positions_move_continuously(fleet_db: Database) -> None:
    _, scripts = load_simulated_fleet(fleet_db, 7)
    script = scripts["V02"]
    t = local(9, 0)
    from dispatcher.geo import haversine_m

    prev = script.position_at(t)
    for _ in range(600):
        t += timedelta(seconds=5)
        pos = script.position_at(t)
        if pos and prev:
            assert haversine_m(prev[0], prev[1], pos[0], pos[1]) < 5 * 30 / 3.6 * 2
        prev = pos


def test_time_lapse_stamps_wall_clock_so_a_real_time_console_accepts_it(
    fleet_db: Database,
) -> None:
    """`simulate --speed 10`: two simulated hours in 12 wall minutes, every fix accepted."""
    vehicles, scripts = load_simulated_fleet(fleet_db, 7)
    with fleet_db.session() as session:
        bindings = DeviceBindings(fleet_repo.device_bindings(session))
    sim_start = local(9, 30)
    wall_start = local(18, 0, day=DAY + timedelta(days=1))  # the console's real clock
    sim_clock, wall_clock = FakeClock(sim_start), FakeClock(wall_start)
    decoder = Decoder(default_adapters(bindings), clock=wall_clock)
    results: list[object] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        results.append(decoder.decode(topic, payload, wall_clock.now()))

    stamp = wall_clock_stamp(sim_start, wall_start, 10.0)
    sim = FleetSimulator(vehicles, scripts, publish, sim_clock, stamp=stamp)
    for _ in range(720):  # one wall second per step = ten simulated seconds
        sim.step(sim_clock.now())
        sim_clock.advance(10)
        wall_clock.advance(1)
    rejected = [r for r in results if not isinstance(r, Accepted)]
    assert not rejected, rejected[:3]
    stamps = [r.report.ts for r in results if isinstance(r, Accepted)]
    fixes = [
        r.report.ts
        for r in results
        if isinstance(r, Accepted) and isinstance(r.report, PositionReport)
    ]
    assert min(fixes) >= wall_start  # the morning's events before it, mapped 10:1 as well
    assert min(stamps) >= wall_start - timedelta(hours=3) / 10
    assert max(stamps) <= wall_clock.now()
    assert stamp(sim_start + timedelta(hours=2)) == wall_start + timedelta(minutes=12)


def test_starting_mid_day_reports_the_morning_first(fleet_db: Database) -> None:
    """The demo starts at 09:30: the deliveries made since 07:00 arrive with their own times."""
    vehicles, scripts = load_simulated_fleet(fleet_db, 7)
    start = local(11, 0)
    sent: list[dict[str, object]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        sent.append({"topic": topic, **json.loads(payload)})

    FleetSimulator(vehicles, scripts, publish, FakeClock(start)).step(start)
    delivered = [m for m in sent if m.get("kind") == "delivered"]
    expected = sum(
        1 for s in scripts.values() for e in s.events if e.kind == "delivered" and e.ts <= start
    )
    assert len(delivered) == expected > 20
    assert all(datetime.fromisoformat(str(m["ts"])) <= start for m in delivered)
    positions = {m["topic"] for m in sent if str(m["topic"]).endswith("/position")}
    assert len(positions) >= len(vehicles) - 4  # OwnTracks phones publish on their own topics


def test_anchored_trouble_happens_soon_after_the_start(fleet_db: Database) -> None:
    """The demo opens at 09:30: idle, offline and a failure all begin within minutes."""
    start = local(9, 30)
    _, scripts = load_simulated_fleet(fleet_db, 7, trouble_from=start)
    events = [e for s in scripts.values() for e in s.events]
    failed = sorted(e.ts for e in events if e.kind == "failed" and e.ts >= start)
    offline = [e.ts for e in events if e.kind == "status_offline"]
    idle = [g.start for s in scripts.values() for g in s.segments if g.kind == "idle"]
    assert len(offline) == len(idle) == 1
    assert start + timedelta(minutes=2) <= offline[0] <= start + timedelta(minutes=30)
    assert start <= idle[0] <= start + timedelta(minutes=30)
    assert failed and failed[0] <= start + timedelta(minutes=30)


def test_starting_mid_day_replays_the_mornings_track(fleet_db: Database) -> None:
    """The morning's fixes arrive too (one where each leg began), in time order, so a van
    that has delivered since 07:00 has a track of the distance it drove."""
    from dispatcher.geo import haversine_m

    vehicles, scripts = load_simulated_fleet(fleet_db, 7)
    start = local(9, 30)
    with fleet_db.session() as session:
        bindings = DeviceBindings(fleet_repo.device_bindings(session))
    decoder = Decoder(default_adapters(bindings), clock=FakeClock(start))
    fixes: list[PositionReport] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        result = decoder.decode(topic, payload, start)
        assert isinstance(result, Accepted), result
        if isinstance(result.report, PositionReport):
            fixes.append(result.report)

    FleetSimulator(vehicles, scripts, publish, FakeClock(start)).step(start)
    busy = [
        vid
        for vid, script in scripts.items()
        if any(e.kind == "delivered" and e.ts <= start for e in script.events)
    ]
    assert len(busy) >= 3
    for vid in busy:
        track = [f for f in fixes if f.vehicle_id == vid]
        assert [f.ts for f in track] == sorted(f.ts for f in track)
        assert track[0].ts < start - timedelta(hours=1), vid
        driven = sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(track))
        assert driven > 1000, (vid, driven)


def test_the_first_step_waits_until_the_broker_is_ready(fleet_db: Database) -> None:
    """The catch-up is a burst of QoS 0 fixes: sent before the clients are connected, it is
    dropped (the demo's history had the morning's deliveries and none of its driving)."""
    vehicles, scripts = load_simulated_fleet(fleet_db, 7)
    order: list[str] = []

    def ready(timeout: float) -> bool:
        order.append("ready")
        return True

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        order.append("publish")

    sim = FleetSimulator(vehicles, scripts, publish, FakeClock(local(9, 30)), ready=ready)
    sim.start()
    try:
        for _ in range(100):
            if "publish" in order:
                break
            time.sleep(0.05)
    finally:
        sim.stop()
    assert order[0] == "ready" and "publish" in order
