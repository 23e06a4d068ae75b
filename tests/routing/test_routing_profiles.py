"""A mixed fleet on the router: a cargo bike is timed on the bicycle profile, a van on the car.

On the Helsinki extract (the real engine, a "car" and a "bicycle" dataset) for the plan's
matrix, the warmed desk matrices and a live ETA; on straight lines (no engine) for the
route desk and ``dispatcher plan`` over the database (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import pytest
from fleet_zone import DAY, TZ, TZ_NAME, demo_day, local, utc
from helsinki_roads import KAISANIEMENKATU, KAIVOKATU, POHJOISESPLANADI, YRJONKATU

from dispatcher.clock import FakeClock
from dispatcher.eta import HaversineProvider, Location, TravelMatrix, build_matrix
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.events import EventBus
from dispatcher.kpi.schedule import predicted_arrivals
from dispatcher.messaging.stop_facts import route_etas
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo, kpi_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.messaging_repo import load_stop_contact
from dispatcher.persistence.orm import Vehicle
from dispatcher.planning.desk import RouteDesk
from dispatcher.planning.evaluate import evaluate_plan, evaluate_route
from dispatcher.planning.live_eta import LiveVehicle, arrivals, predict_route
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle
from dispatcher.planning.plan_day import plan_day
from dispatcher.routing import Router, RoutingSettings
from dispatcher.users.desk import UserDesk

ACTOR = "ann"
TEN = 10 * 3600.0  # 10:00: no rush-hour factor on the van's times
BIKE = "V11"  # the demo's first cargo bike ("Cargo bike 11")


def helsinki_day() -> Plan:
    vehicles = [
        PlanVehicle("van", 100, TEN, TEN + 8 * 3600, KAIVOKATU, KAIVOKATU, vehicle_type="van"),
        PlanVehicle(
            "bike", 40, TEN, TEN + 8 * 3600, KAIVOKATU, KAIVOKATU, vehicle_type="cargo_bike"
        ),
    ]
    stops = [PlanStop("k", KAISANIEMENKATU), PlanStop("y", YRJONKATU)]
    return Plan.build(vehicles, stops, {"van": ["k"], "bike": ["y"]})


def leg_s(router: Router, vehicle_type: str, a: Location, b: Location) -> float:
    road = build_matrix(router.provider(vehicle_type), [a, b])
    assert road.source == "osrm"
    return float(road.duration[0, 1])


def test_a_cargo_bike_plans_on_bicycle_times_and_a_van_on_car_times(router: Router) -> None:
    plan = helsinki_day()
    pm = PlanMatrix.build(plan, router.fleet())
    assert {p: m.source for p, m in pm.matrices.items()} == {"car": "osrm", "bicycle": "osrm"}
    ev = evaluate_plan(pm, plan)
    bike = leg_s(router, "cargo_bike", KAIVOKATU, YRJONKATU)
    car = leg_s(router, "van", KAIVOKATU, YRJONKATU)
    assert bike != pytest.approx(car, abs=1.0)  # the two profiles do differ here
    assert ev.routes["bike"].arrival[0] - TEN == pytest.approx(bike, abs=1.0)
    assert ev.routes["van"].arrival[0] - TEN == pytest.approx(
        leg_s(router, "van", KAIVOKATU, KAISANIEMENKATU), abs=1.0
    )
    # the desk's matrices, warmed for both profiles in a worker, say the same
    warm = router.warm_fleet()
    warm.warm([KAIVOKATU, KAISANIEMENKATU, YRJONKATU], ["van", "cargo_bike"])
    warmed = evaluate_plan(PlanMatrix.build(plan, warm), plan)
    assert warmed.routes["bike"].arrival[0] - TEN == pytest.approx(bike, abs=1.0)


def test_a_cargo_bikes_live_eta_rides_the_bicycle_profile(router: Router) -> None:
    origin, now = local(0), local(10)
    bike = LiveVehicle(
        "B1", 40, local(8), local(17), KAIVOKATU, KAIVOKATU, vehicle_type="cargo_bike"
    )
    stops = [PlanStop("a", POHJOISESPLANADI)]
    eta = arrivals(predict_route(bike, stops, now, origin, router.fleet()), origin)["a"]
    assert (eta - now).total_seconds() == pytest.approx(
        leg_s(router, "cargo_bike", KAIVOKATU, POHJOISESPLANADI), abs=2.0
    )


class Spy:
    """Straight lines, marked with the profile asked and counted."""

    def __init__(self, profile: str) -> None:
        self.profile, self.calls = profile, 0

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        self.calls += 1
        tm = HaversineProvider().matrix(locations)
        return TravelMatrix(tm.distance, tm.duration, tm.profile, self.profile)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    with database.session() as session:
        vehicle = session.get(Vehicle, BIKE)
        assert vehicle is not None and vehicle.name.startswith("Cargo bike")
        assert vehicle.vehicle_type == "cargo_bike"  # the demo's bikes are typed as such
    UserDesk(database).login(ACTOR)
    yield database
    database.dispose()


def test_the_route_desk_times_each_vehicle_with_its_types_profile(db: Database) -> None:
    def load(day: date | None) -> list[RouteView]:
        with db.session() as session:
            return fleet_repo.load_routes(session, day or DAY)

    router = Router(RoutingSettings())  # straight lines: a bike at 15 km/h, a van at 30
    desk = RouteDesk(
        db,
        FakeClock(utc(7)),
        EventBus(),
        TZ,
        load_routes=load,
        actor=lambda: ACTOR,
        provider=router.warm_fleet(),
    )
    assert desk.load(day=DAY)
    assert desk.day is not None and desk.pm is not None and desk.evaluation is not None
    plan = desk.day.plan
    assert desk.pm.mixed and plan.vehicles[BIKE].vehicle_type == "cargo_bike"
    as_bike = PlanMatrix.build(plan, router.warm_provider("cargo_bike"))
    as_van = PlanMatrix.build(plan, router.warm_provider("van"))
    route = plan.routes[BIKE]
    assert route, "the demo gives the cargo bike stops"
    shown = desk.evaluation.routes[BIKE].arrival
    bike = evaluate_route(as_bike, plan.vehicles[BIKE], route, plan).arrival
    assert list(shown) == pytest.approx(list(bike))
    van_times = evaluate_route(as_van, plan.vehicles[BIKE], route, plan).arrival
    assert shown[-1] > van_times[-1]  # half the speed: later than the van times said
    assert list(desk.evaluation.routes["V01"].arrival) == pytest.approx(
        list(evaluate_route(as_van, plan.vehicles["V01"], plan.routes["V01"], plan).arrival)
    )


def test_dispatcher_plan_builds_one_matrix_per_profile_in_use(db: Database) -> None:
    spies = {p: Spy(p) for p in ("car", "bicycle", "foot")}
    roads = FleetRoads(RoutingSettings().profile_for, spies.__getitem__)
    actor = UserDesk(db).login(ACTOR).id
    plan_day(db, DAY, TZ_NAME, time_limit_s=0.5, actor=actor, provider=roads)
    assert {p: s.calls for p, s in spies.items()} == {"car": 1, "bicycle": 1, "foot": 0}


def test_the_customers_and_the_kpis_etas_ride_the_vehicles_profile(db: Database) -> None:
    """Messages and the tracking page (``route_etas``) and the KPI timeline's predictions
    read the vehicle's type from the database and time the route on its profile."""
    router = Router(RoutingSettings())
    roads, bike, van = router.fleet(), router.provider("cargo_bike"), router.provider("van")
    with db.session() as session:
        first = fleet_repo.load_routes(session, DAY)
        stop_id = next(r.stops[0].id for r in first if r.vehicle_id == BIKE)
        records = kpi_repo.load_day(session, TZ, DAY)
    contact = load_stop_contact(db, stop_id, TZ_NAME)
    assert contact.vehicle_type == "cargo_bike"
    now = local(6, 0)
    told = route_etas(contact, now, None, TZ_NAME, roads)
    assert told == route_etas(contact, now, None, TZ_NAME, bike)
    assert told != route_etas(contact, now, None, TZ_NAME, van)
    assert {v.id: v.vehicle_type for v in records.vehicles}[BIKE] == "cargo_bike"
    depot = next(v for v in records.vehicles if v.id == BIKE)
    assert depot.depot_lat is not None and depot.depot_lon is not None
    at = {BIKE: (depot.depot_lat + 0.01, depot.depot_lon)}
    predicted = predicted_arrivals(records, at, utc(9), roads)
    assert predicted and predicted == predicted_arrivals(records, at, utc(9), bike)
    assert predicted != predicted_arrivals(records, at, utc(9), van)
