"""Route deviation on the road path, and each vehicle type's map line, on the real engine.

Issue 18: the deviation rule measured the distance to straight chords between the stops, so a
van on the one-way streets between two stops 160 m apart (1.7 km by car, round the block
east of them) was "580 m off its route". Stops H-011 and H-003 of the Helsinki fleet
(docs/routing/helsinki/orders.csv), the depot Kamppi Hub. SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, time, timedelta

import pytest
from fleet_zone import DAY, TZ_NAME, local
from helsinki_roads import KAIVOKATU
from sqlalchemy import update
from test_routing_map import counting, route, stop

from dispatcher.alerts.facts import LatLon
from dispatcher.alerts.geo import distance_to_polyline_m
from dispatcher.alerts.live_facts import LiveFacts
from dispatcher.alerts.rules_vehicles import DeviationRule
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.fleet.state import FleetState
from dispatcher.maps.road_paths import RoadPaths
from dispatcher.model.core import PositionReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Vehicle
from dispatcher.routing import Dataset, Router, RoutingSettings
from dispatcher.scenario.records import (
    CustomerRecord,
    DepotRecord,
    OrderRecord,
    Scenario,
    VehicleRecord,
)

H011 = (60.17094, 24.93968)
H003 = (60.1695, 24.93951)
#: On the car's road from H-011 to H-003 (Erottaja way round), 580 m from every chord.
ON_THE_ROAD = (60.167828, 24.949456)
NOW = local(9, 0).astimezone(UTC)


def helsinki_day() -> Scenario:
    sc = Scenario("deviation day", DAY, TZ_NAME)
    sc.depots.append(DepotRecord("HKI", "Kamppi Hub", "Kaivokatu 1", *KAIVOKATU))
    sc.vehicles.append(VehicleRecord("H1", "Van 1", "", "HKI", None, 40, time(8), time(16)))
    sc.orders = [
        OrderRecord(
            order_ref=ref,
            service_date=DAY,
            customer=CustomerRecord(ref=f"C-{ref}", name=ref),
            address=f"Katu {i}",
            lat=where[0],
            lon=where[1],
            service_s=120,
        )
        for i, (ref, where) in enumerate([("H-011", H011), ("H-003", H003)])
    ]
    sc.routes = {"H1": ["H-011", "H-003"]}
    return sc


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, helsinki_day())
    yield database
    database.dispose()


def at(where: LatLon) -> FleetState:
    fleet = FleetState()
    fleet.apply_position(PositionReport("H1", NOW, where[0], where[1], speed_kmh=25.0), NOW)
    return fleet


def deviations(db: Database, where: LatLon, router: Router | None) -> tuple[list[str], float]:
    """Titles of the deviation alerts for a fix at ``where``, and its distance to the path."""
    snapshot = LiveFacts(db, at(where), router=router).capture(NOW)().snapshot
    [van] = snapshot.vehicles
    off = distance_to_polyline_m(where, van.planned_path)
    return [c.title for c in DeviationRule(Thresholds()).evaluate(snapshot, NOW)], off


def test_on_the_road_far_from_the_chord_is_no_deviation(db: Database, router: Router) -> None:
    chords = [KAIVOKATU, H011, H003, KAIVOKATU]
    assert distance_to_polyline_m(ON_THE_ROAD, chords) > 500
    titles, off = deviations(db, ON_THE_ROAD, router)
    assert titles == [] and off < 30, "on the street the engine routes the van along"
    straight, off_chord = deviations(db, ON_THE_ROAD, None)
    assert len(straight) == 1 and off_chord > 500, "the chord's false alarm"
    assert straight[0].startswith("Van 1 is 58") and "off its planned route" in straight[0]
    away = (ON_THE_ROAD[0], ON_THE_ROAD[1] + 0.02)  # 1.1 km east, past Katajanokka
    titles, off = deviations(db, away, router)
    assert off > 600 and len(titles) == 1 and "off its planned route" in titles[0]


def test_an_unchanged_route_asks_the_engine_once(db: Database, dataset: Dataset) -> None:
    router = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    asked = counting(router)
    facts = LiveFacts(db, at(ON_THE_ROAD), router=router)
    try:
        first = facts.capture(NOW)().snapshot.vehicles[0].planned_path
        assert len(asked) == 1 and len(first) > 10
        again = facts.capture(NOW + timedelta(seconds=30))().snapshot.vehicles[0].planned_path
        assert again == first and len(asked) == 1
    finally:
        router.close()


def test_a_cargo_bike_s_path_and_map_line_are_the_bicycle_profile_s(
    db: Database, dataset: Dataset
) -> None:
    router = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    asked = counting(router)
    try:
        day = route(stop(1, H011), stop(2, H003))
        van = RoadPaths(router).for_routes([day])["V1"].whole
        bike = RoadPaths(router).for_routes([replace(day, vehicle_type="cargo_bike")])["V1"].whole
        bicycle, car = router.engine("bicycle"), router.engine("car")
        assert bicycle is not None and car is not None
        assert asked[-1].startswith(bicycle.base_url) and asked[0].startswith(car.base_url)
        assert len(bike) < len(van), "the bike rides against the one-way streets' flow"
        # the stored type reaches the map's routes and the rule's planned path
        with db.session() as session:
            session.execute(update(Vehicle).values(vehicle_type="cargo_bike"))
            [stored] = [r for r in fleet_repo.load_routes(session, DAY) if r.vehicle_id]
        assert stored.vehicle_type == "cargo_bike"
        snapshot = LiveFacts(db, at(ON_THE_ROAD), router=router).capture(NOW)().snapshot
        assert asked[-1].startswith(bicycle.base_url)
        assert distance_to_polyline_m(ON_THE_ROAD, snapshot.vehicles[0].planned_path) > 300
    finally:
        router.close()
