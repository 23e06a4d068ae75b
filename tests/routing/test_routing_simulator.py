"""The simulated fleet drives the real engine's roads (the Helsinki extract, car and bicycle).

A van's reported positions lie on the engine's road path between its stops, not on the
straight line; each leg takes the engine's time (times the leg's traffic); a leg the engine
cannot route is a straight line, with a warning, never a crash.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import random
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day, local
from helsinki_roads import DEAD_END, KAIVOKATU, POHJOISESPLANADI, YRJONKATU

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.geo import haversine_m
from dispatcher.persistence import fleet_repo
from dispatcher.routing import Dataset, Router
from dispatcher.scenario.demo import sweep_routes
from dispatcher.simulator.road_leg import Point
from dispatcher.simulator.roads import SimRoads
from dispatcher.simulator.runner import FleetSimulator, SimVehicle, build_scripts
from dispatcher.simulator.script import Segment, SimStop, Trouble, build_script

FLEET = Path(__file__).parents[2] / "docs" / "routing" / "helsinki"
DEPOT = KAIVOKATU  # the fleet's depot, Kaivokatu 1
#: Metres a simulated position may lie off the engine's line (float rounding, 6-decimal fixes).
ON_ROAD_M = 3.0


def helsinki_stops(n: int) -> list[SimStop]:
    with (FLEET / "orders.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [SimStop(r["order_id"], float(r["lat"]), float(r["lon"]), 300) for r in rows]


def off_line_m(p: Point, line: tuple[Point, ...]) -> float:
    """Metres from ``p`` to the polyline ``line`` (flat earth: a city's few kilometres)."""
    ky = 111_320.0
    kx = ky * math.cos(math.radians(p[0]))
    best = math.inf
    for a, b in itertools.pairwise(line):
        ax, ay = (a[1] - p[1]) * kx, (a[0] - p[0]) * ky
        bx, by = (b[1] - p[1]) * kx, (b[0] - p[0]) * ky
        dx, dy = bx - ax, by - ay
        span = dx * dx + dy * dy
        g = 0.0 if span == 0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / span))
        best = min(best, math.hypot(ax + g * dx, ay + g * dy))
    return best


def drives(segments: list[Segment]) -> list[Segment]:
    return [s for s in segments if s.kind == "drive" and s.a != s.b]


def test_a_van_drives_the_engines_road_in_the_engines_time(router: Router) -> None:
    vehicle = SimVehicle("H1", local(8).time(), tuple(helsinki_stops(8)))
    roads = SimRoads(router)
    script = build_scripts([vehicle], DEPOT, DAY, TZ_NAME, seed=7, roads=roads)["H1"]
    legs = drives(script.segments)
    assert len(legs) >= 9 and roads.straight == 0  # depot, 8 stops, depot (and a detour)
    far_from_straight = varied = 0
    for seg in legs:
        engine = router.route([seg.a, seg.b], "van")
        assert engine.source == "osrm" and seg.road is not None
        # The leg's time is the engine's, times the leg's traffic (1 on the way home).
        span = (seg.end - seg.start).total_seconds()
        assert seg.road.duration_s == pytest.approx(engine.duration_s)
        assert span == pytest.approx(engine.duration_s * seg.factor, abs=0.01)
        assert 0.5 < seg.factor < 2.5
        # Every position of the leg is on the engine's line, or on the few metres from a
        # place to the street the engine snapped it to (driven too).
        kerbs = ((seg.a, engine.points[0]), (engine.points[-1], seg.b))
        speeds = []
        for i in range(1, 600):
            pos = script.position_at(seg.start + timedelta(seconds=span * i / 600))
            assert pos is not None
            lat, lon, speed, _ = pos
            on_kerb = min(off_line_m((lat, lon), k) for k in kerbs) <= 1.0
            assert on_kerb or off_line_m((lat, lon), engine.points) <= ON_ROAD_M
            speeds.append(speed)
        # Its speed is the street's: slower here, faster there, the leg's length in its time.
        assert sum(speeds) / len(speeds) == pytest.approx(seg.road.length_m / span * 3.6, rel=0.03)
        assert max(speeds) < 90
        varied += max(speeds) > 1.3 * min(speeds)
        # Where it is when is the engine's: it passes the middle of the engine's line when the
        # engine's route to that point says (turn and signal delays spread over the leg).
        k = len(engine.points) // 2
        to_mid = router.route([seg.a, engine.points[k]], "van").duration_s * seg.factor
        assert seg.road.cum_s is not None
        passed = seg.road.cum_s[k + 1] * seg.factor  # +1: the place before the engine's line
        assert passed == pytest.approx(to_mid, rel=0.25, abs=30)
        mid = script.position_at(seg.start + (seg.end - seg.start) / 2)
        assert mid is not None
        far_from_straight += off_line_m(mid[:2], (seg.a, seg.b)) > 50
    # Not the straight line: the streets of a city bend away from it.
    assert far_from_straight >= len(legs) // 3
    assert varied >= len(legs) // 2  # nor one speed per leg
    # Arrival at each stop is the end of its drive (the console's ETA compares with it).
    arrivals = {e.order_ref: e.ts for e in script.events if e.kind == "arrived"}
    ends = {s.order_ref: s.start for s in script.segments if s.kind == "serve"}
    assert arrivals == ends


def test_the_home_leg_takes_exactly_the_engines_time(router: Router) -> None:
    stops = [SimStop("A", YRJONKATU[0], YRJONKATU[1], 60)]
    script = build_script(
        "H1",
        KAIVOKATU,
        stops,
        local(8),
        random.Random(1),
        Trouble(),
        roads=SimRoads(router).for_type("van"),
    )
    home = drives(script.segments)[-1]
    assert home.b == KAIVOKATU and home.factor == 1.0
    engine = router.route([YRJONKATU, KAIVOKATU], "van")
    assert (home.end - home.start).total_seconds() == pytest.approx(engine.duration_s, abs=0.01)


def test_a_cargo_bike_rides_the_bicycle_roads(router: Router) -> None:
    roads = SimRoads(router)
    van = roads.leg("van", KAIVOKATU, POHJOISESPLANADI)
    bike = roads.leg("cargo_bike", KAIVOKATU, POHJOISESPLANADI)
    assert van is not None and bike is not None
    engine = router.route([KAIVOKATU, POHJOISESPLANADI], "cargo_bike")
    assert bike.duration_s == pytest.approx(engine.duration_s)
    # A bike is not a van: its own streets (no one-way detour) at a bicycle's speed.
    assert bike.points != van.points
    assert bike.length_m < van.length_m
    assert bike.length_m / bike.duration_s < van.length_m / van.duration_s


def test_a_leg_the_engine_cannot_route_is_a_straight_line(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    # The car network cannot leave DEAD_END: the engine answers no route from it.
    stops = [
        SimStop("A", DEAD_END[0], DEAD_END[1], 60),
        SimStop("B", YRJONKATU[0], YRJONKATU[1], 60),
    ]
    roads = SimRoads(router)
    with caplog.at_level(logging.WARNING):
        script = build_script(
            "H1",
            KAIVOKATU,
            stops,
            local(8),
            random.Random(1),
            Trouble(),
            roads=roads.for_type("van"),
        )
    legs = drives(script.segments)
    assert [s.road is not None for s in legs] == [True, False, True]
    stuck = legs[1]
    assert "driving a straight line" in caplog.text and roads.straight == 1
    mid = script.position_at(stuck.start + (stuck.end - stuck.start) / 2)
    assert mid is not None
    assert off_line_m(mid[:2], (stuck.a, stuck.b)) < 1.0
    # Asked once: the second time the leg comes from the cache, without a second warning.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert roads.leg("van", DEAD_END, YRJONKATU) is None
    assert not caplog.text


def test_the_phone_reports_positions_on_the_street(router: Router) -> None:
    """What the runner publishes for an OwnTracks phone: on the road, at the road's speed."""
    vehicle = SimVehicle(
        "H2", local(8).time(), tuple(helsinki_stops(3)), owntracks=("anna", "phone")
    )
    script = build_scripts([vehicle], DEPOT, DAY, TZ_NAME, seed=3, roads=SimRoads(router))["H2"]
    seg = drives(script.segments)[0]
    assert seg.road is not None
    sent: list[dict[str, float]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        body = json.loads(payload)
        if body.get("_type") == "location":
            sent.append(body)

    clock = FakeClock(seg.start)
    sim = FleetSimulator([vehicle], {"H2": script}, publish, clock)
    sim.step(clock.now())
    while clock.now() < seg.end:
        clock.advance(5)
        sim.step(clock.now())
    moving = [p for p in sent if "vel" in p]
    assert len(moving) >= 10
    kerb = max(haversine_m(*seg.a, *seg.road.points[1]), haversine_m(*seg.b, *seg.road.points[-2]))
    for p in moving:
        assert off_line_m((p["lat"], p["lon"]), seg.road.points) <= ON_ROAD_M
        assert off_line_m((p["lat"], p["lon"]), seg.road.points[1:-1]) <= kerb + ON_ROAD_M
        assert 0 < p["vel"] < 90 and 0 <= p["cog"] < 360
    assert len({p["vel"] for p in moving}) > 1  # the streets' speeds, not one for the leg


@pytest.mark.mqtt
def test_the_demo_fleet_drives_the_roads(dataset: Dataset, sqlite_url: str, mqtt_url: str) -> None:
    """The console's built-in simulator (``dispatcher demo``): the core's router drives it,
    the legs fetched on the simulator's thread, the fixes the console takes on the streets."""
    scenario = demo_day(DAY, n_orders=10, n_vehicles=2)
    hubs = [replace(scenario.depots[0], lat=DEPOT[0], lon=DEPOT[1])]
    stops = helsinki_stops(10)
    orders = [replace(o, lat=s.lat, lon=s.lon) for o, s in zip(scenario.orders, stops, strict=True)]
    helsinki = replace(scenario, depots=hubs, orders=orders)
    helsinki.routes = sweep_routes(helsinki)
    settings = Settings(
        database_url=sqlite_url,
        sections={"routing": {"provider": "osrm", "dataset": str(dataset.folder)}},
    )
    settings.broker.url, settings.broker.prefix = mqtt_url, f"r{uuid.uuid4().hex[:8]}"
    clock = FakeClock(local(7, 10))  # the vans leave the depot
    core = Core(settings, clock=clock)
    try:
        with core.db.session() as session:
            fleet_repo.save_scenario(session, helsinki)
        live = core.start_live(simulate_seed=3)
        sim = live.simulator
        assert sim is not None

        places = [DEPOT, *((s.lat, s.lon) for s in stops)]

        def fixes() -> list[tuple[float, float]]:
            return [
                (lat, lon) for v in live.fleet.vehicle_ids() for _, lat, lon in live.fleet.trail(v)
            ]

        def on_the_way() -> list[tuple[float, float]]:  # between the stops, not at them
            return [f for f in fixes() if min(haversine_m(*f, *p) for p in places) > 30]

        deadline = time.monotonic() + 30
        while len(on_the_way()) < 5:
            assert time.monotonic() < deadline, "the demo fleet never drove"
            core.tick()
            clock.advance(2)
            time.sleep(0.05)
        scripts = sim._scripts  # built on the simulator's thread, with the core's router
        legs = [s for script in scripts.values() for s in drives(script.segments)]
        # Every leg between the day's places is on the roads (a scripted detour 700 m off
        # its stop may fall off the extract's network: that one is straight, said).
        between = [s for s in legs if s.a in places and s.b in places]
        assert len(between) == 12 and all(s.road is not None for s in between)
        lines = [s.road.points if s.road is not None else (s.a, s.b) for s in legs]
        for fix in fixes():
            assert min(off_line_m(fix, line) for line in lines) <= ON_ROAD_M
    finally:
        core.close()


def test_the_replayed_morning_counts_the_streets_km(router: Router) -> None:
    """Started mid-day, the simulator replays the morning's track: on the roads, enough of it
    that the km between its fixes are the streets' (the boards' "km driven")."""
    vehicle = SimVehicle("H1", local(8).time(), tuple(helsinki_stops(8)))
    script = build_scripts([vehicle], DEPOT, DAY, TZ_NAME, seed=7, roads=SimRoads(router))["H1"]
    now = drives(script.segments)[-1].end  # home again
    fixes: list[tuple[float, float]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic.endswith("/position"):
            body = json.loads(payload)
            fixes.append((body["lat"], body["lon"]))

    FleetSimulator([vehicle], {"H1": script}, publish, FakeClock(now)).step(now)
    replayed = sum(haversine_m(*p, *q) for p, q in itertools.pairwise(fixes))
    road = sum(s.road.length_m for s in drives(script.segments) if s.road is not None)
    crow = sum(haversine_m(*s.a, *s.b) for s in drives(script.segments))
    assert 0.8 * road < replayed <= road + 1  # 11.5 of 13.3 km (the crow: 6.9)
    assert replayed > 1.2 * crow
