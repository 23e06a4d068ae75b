"""The simulator asks the road engine for each leg once, by the vehicle's profile, before it
drives; without ``[routing]`` or when the engine fails it drives today's straight lines.

The engine here is a fake OSRM answering through the router's ``fetch``: each leg an L (north
first, then east or west) in 600 s; the real engine's roads are in
tests/routing/test_routing_simulator.py.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, demo_day, local
from sqlalchemy import update

from dispatcher.clock import FakeClock
from dispatcher.geo import haversine_m
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Vehicle
from dispatcher.routing import Router, RoutingSettings
from dispatcher.simulator.from_db import load_simulated_fleet, load_simulated_fleet_later
from dispatcher.simulator.road_leg import RoadLeg
from dispatcher.simulator.roads import SimRoads
from dispatcher.simulator.runner import FleetSimulator
from dispatcher.simulator.script import VehicleScript
from main import main

LEG_S = 600.0
NORTH_S = 400.0


class FakeOsrm:
    """Answers OSRM's route service with an L through the corner (b's lat, a's lon), each
    piece's time annotated."""

    def __init__(self, fail: bool = False, snap_deg: float = 0.0) -> None:
        self.fail, self.snap_deg = fail, snap_deg
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, url: str, timeout_s: float) -> bytes:
        m = re.search(r"/route/v1/(\w+)/([-\d.]+),([-\d.]+);([-\d.]+),([-\d.]+)", url)
        assert m, url
        with self._lock:
            self.asked.append(m.group(1))
        if self.fail:
            raise OSError("connection refused")
        lon1, lat1, lon2, lat2 = (float(g) for g in m.groups()[1:])
        line = [[lon1, lat1 + self.snap_deg], [lon1, lat2], [lon2, lat2]]
        # North in two thirds of the time, east or west in the last third (turns included).
        pieces = {"duration": [NORTH_S * 0.9, (LEG_S - NORTH_S) * 0.9]}
        route = {
            "geometry": {"coordinates": line},
            "distance": 1000.0,
            "duration": LEG_S,
            "legs": [{"annotation": pieces}],
        }
        return json.dumps({"code": "Ok", "routes": [route]}).encode()


def fake_router(osrm: FakeOsrm) -> Router:
    return Router(RoutingSettings(provider="osrm", url="http://osrm.test"), fetch=osrm)


@pytest.fixture
def fleet_db(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    yield db
    db.dispose()


def test_each_vehicle_drives_its_profiles_roads(fleet_db: Database) -> None:
    with fleet_db.session() as session:
        bike = fleet_repo.load_vehicles(session)[0].id
        session.execute(update(Vehicle).where(Vehicle.id == bike).values(vehicle_type="cargo_bike"))
    osrm = FakeOsrm()
    roads = SimRoads(fake_router(osrm))
    vehicles, scripts = load_simulated_fleet(fleet_db, 7, roads=roads)
    assert {v.vehicle_id: v.vehicle_type for v in vehicles}[bike] == "cargo_bike"
    assert set(osrm.asked) == {"car", "bicycle"}
    n_legs = len(osrm.asked)
    assert roads.straight == 0 and f"{n_legs} legs on the roads" in roads.summary()
    for vid, script in scripts.items():
        legs = [s for s in script.segments if s.kind == "drive" and s.a != s.b]
        assert legs and all(s.road is not None for s in legs), vid
        for seg in legs:
            assert seg.road is not None
            assert (seg.end - seg.start).total_seconds() == pytest.approx(LEG_S * seg.factor)
            # At the corner after two thirds of the time, at each piece's own speed before
            # and after (the turn's time spread over both, as the engine's total has it).
            span = seg.end - seg.start
            corner = script.position_at(seg.start + span * NORTH_S / LEG_S)
            assert corner is not None
            assert corner[:2] == pytest.approx((seg.b[0], seg.a[1]), abs=1e-9)
            north_m = haversine_m(*seg.a, seg.b[0], seg.a[1])
            east_m = haversine_m(seg.b[0], seg.a[1], *seg.b)
            before = script.position_at(seg.start + span / 3)
            after = script.position_at(seg.start + span * 5 / 6)
            assert before is not None and after is not None
            seconds = span.total_seconds()
            if north_m > 1:
                assert before[3] in (pytest.approx(0.0, abs=0.01), pytest.approx(180.0, abs=0.01))
                assert before[2] == pytest.approx(north_m / (seconds * NORTH_S / LEG_S) * 3.6)
            if east_m > 1:
                assert after[3] in (pytest.approx(90.0, abs=0.1), pytest.approx(270.0, abs=0.1))
                assert after[2] == pytest.approx(east_m / (seconds * (1 - NORTH_S / LEG_S)) * 3.6)
    # Once per leg: building the scripts again asks nothing more.
    load_simulated_fleet(fleet_db, 7, roads=roads)
    assert len(osrm.asked) == n_legs


def test_without_an_engine_the_fleet_drives_straight_lines_as_before(
    fleet_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert SimRoads.of(Router()) is None and SimRoads.of(None) is None
    _, before = load_simulated_fleet(fleet_db, 7)
    osrm = FakeOsrm(fail=True)
    roads = SimRoads(fake_router(osrm))
    with caplog.at_level(logging.WARNING):
        _, failed = load_simulated_fleet(fleet_db, 7, roads=roads)
    # A dead engine: every leg a straight line in today's time, the same day as without it.
    # each leg asked twice (with its pieces' times, then the router's plain path)
    assert osrm.asked and 2 * roads.straight == len(osrm.asked)
    assert {v: s.segments for v, s in failed.items()} == {v: s.segments for v, s in before.items()}
    assert {v: s.events for v, s in failed.items()} == {v: s.events for v, s in before.items()}
    ours = [r for r in caplog.records if r.name == "dispatcher.simulator.roads"]
    assert 1 <= sum(r.levelno == logging.WARNING for r in ours) <= 3  # not one per leg


def test_the_demo_fetches_its_roads_on_the_simulators_thread(fleet_db: Database) -> None:
    osrm = FakeOsrm()
    start = local(9, 30)
    vehicles, later = load_simulated_fleet_later(
        fleet_db, 7, trouble_from=start, roads=SimRoads(fake_router(osrm))
    )
    assert vehicles and not osrm.asked  # nothing asked yet: the console is starting
    threads: set[str] = set()
    published = threading.Event()

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        published.set()

    def prepare() -> dict[str, VehicleScript]:
        threads.add(threading.current_thread().name)
        return later()

    clock = FakeClock(start + timedelta(minutes=1))
    sim = FleetSimulator(vehicles, {}, publish, clock, rate_hz=20, prepare=prepare)
    sim.start()
    try:
        assert published.wait(10)
    finally:
        sim.stop()
    assert threads == {"fleet-simulator"} and osrm.asked


def test_a_place_the_dataset_does_not_cover_is_driven_straight() -> None:
    """The engine snaps a place 2 km away to its nearest street: not a road for it."""
    osrm = FakeOsrm(snap_deg=0.02)
    roads = SimRoads(fake_router(osrm))
    assert roads.leg("van", (52.5, 13.4), (52.51, 13.41)) is None and roads.straight == 1
    near = SimRoads(fake_router(FakeOsrm(snap_deg=0.001)))  # 110 m: a yard off its street
    assert near.leg("van", (52.5, 13.4), (52.51, 13.41)) is not None


@pytest.mark.mqtt
def test_simulate_asks_the_configured_engine_for_its_roads(
    sqlite_url: str, mqtt_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[routing]`` on an engine that does not answer: straight lines, said, and it drives."""
    config = tmp_path / "dispatcher.toml"
    config.write_text('[routing]\nprovider = "osrm"\nurl = "http://127.0.0.1:9"\ntimeout_s = 0.5\n')
    argv = ["--config", str(config), "--db", sqlite_url, "--broker", mqtt_url, "simulate"]
    code = main(
        [*argv, "--vehicles", "3", "--stops", "12", "--start", "10:00", "--duration", "0.5"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "fetching the day's road legs from osrm http://127.0.0.1:9" in out
    assert "roads: 0 legs on the roads of osrm http://127.0.0.1:9, 15 straight" in out
    assert "driving 3 vehicles" in out


def test_a_leg_without_usable_piece_times_is_driven_at_one_speed() -> None:
    a, b = (52.5, 13.4), (52.51, 13.4)
    road = [(52.5001, 13.4), (52.505, 13.4), (52.5099, 13.4)]
    for pieces in (None, [10.0], [10.0, float("nan")], [0.0, 0.0], [-1.0, 5.0]):
        leg = RoadLeg.through(a, b, road, 120.0, pieces)
        assert leg.cum_s is None
        *_, heading, mps = leg.at(0.5)
        assert mps == pytest.approx(leg.length_m / 120.0) and round(heading) == 0
    timed = RoadLeg.through(a, b, road, 120.0, [30.0, 60.0])
    assert timed.cum_s is not None and timed.cum_s[-1] == pytest.approx(120.0)
    # the kerbs (11 m each) at the road's mean speed; the slow second piece takes its share
    assert timed.at(1.0)[:2] == pytest.approx(b) and timed.at(0.0)[:2] == pytest.approx(a)
    assert timed.at(0.2)[3] > timed.at(0.8)[3]
    assert RoadLeg.through(a, b, road, 0.0, [30.0, 60.0]).cum_s is None  # no time: no pieces
