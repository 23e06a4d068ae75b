"""Constraints from the fleet setup and the orders to the planner, on both databases.

A vehicle saved through the fleet setup desk with skills, a fixed cost, weight/volume
limits, a maximum route and a break window, and orders with required skills, weight, volume
and a pickup-delivery pair, come back from the database into the day's plan as the planner's
constraints; a bad value is refused with its field's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fleet_zone import DAY, TZ, utc

from dispatcher.clock import FakeClock
from dispatcher.fleet.setup import FleetSetupDesk
from dispatcher.importing.orders_csv import parse_orders
from dispatcher.model.fleet_setup import FieldErrors
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Route, Stop
from dispatcher.planning.dayplan import build_day_plan
from dispatcher.users.desk import UserDesk

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
HUB = {"id": "HUB", "name": "Hub", "lat": "53.48", "lon": "-2.24"}
VAN = {
    "id": "V1",
    "name": "Fridge van",
    "depot_id": "HUB",
    "skills": "cold, lift",
    "shift_start": "08:00",
    "shift_end": "17:00",
    "break_after_min": "240",
    "break_latest_min": "300",
    "break_min": "30",
    "fixed_cost": "45.5",
    "max_weight_kg": "900",
    "max_volume_l": "6000",
    "max_route_min": "420",
    "cost_per_km": "0.4",
    "cost_per_hour": "22",
}


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def desk(db: Database) -> FleetSetupDesk:
    UserDesk(db).login("admin")
    return FleetSetupDesk(db, TZ, FakeClock(NOW))


def test_the_fleet_setup_and_the_orders_reach_the_planner(
    desk: FleetSetupDesk, db: Database
) -> None:
    desk.save("admin", "depot", HUB, new=True)
    desk.save("admin", "vehicle", VAN, new=True)
    stored = desk.fleet()["vehicles"][0]
    assert stored["fixed_cost"] == 45.5 and stored["max_route_min"] == 420
    with db.session() as session:
        route = Route(vehicle_id="V1", service_date=DAY)
        session.add(route)
        session.flush()
        common = {"service_date": DAY, "lat": 53.5, "lon": -2.2, "route_id": route.id}
        session.add_all(
            [
                Stop(order_ref="P1", kind="pickup", pair_key="S1", sequence=1, **common),
                Stop(
                    order_ref="D1",
                    kind="delivery",
                    pair_key="S1",
                    required_skills=["cold"],
                    weight_kg=120,
                    volume_l=300,
                    sequence=2,
                    window_start=utc(9),
                    window_end=utc(12),
                    **common,
                ),
            ]
        )
    with db.session() as session:
        routes = fleet_repo.load_routes(session, DAY)
        vehicles = fleet_repo.load_vehicles(session)
    day = build_day_plan(routes, vehicles, TZ, day=DAY)
    van = day.plan.vehicles["V1"]
    assert van.skills == {"cold", "lift"}
    assert (van.fixed_cost, van.max_weight, van.max_volume) == (45.5, 900, 6000)
    assert van.max_duration_s == 420 * 60
    assert van.break_window == (12 * 3600.0, 13 * 3600.0) and van.break_s == 30 * 60
    by_ref = {v.order_ref: sid for sid, v in day.stops.items()}
    delivery = day.plan.stops[by_ref["D1"]]
    assert delivery.skills == {"cold"} and (delivery.weight, delivery.volume) == (120, 300)
    assert delivery.pair == day.plan.stops[by_ref["P1"]].pair == "S1"


def test_bad_constraint_values_are_refused_field_by_field(desk: FleetSetupDesk) -> None:
    desk.save("admin", "depot", HUB, new=True)
    bad = VAN | {
        "break_latest_min": "120",  # before the break is due (240)
        "max_weight_kg": "-5",
        "max_route_min": "lots",
        "fixed_cost": "1e9",
    }
    with pytest.raises(FieldErrors) as caught:
        desk.save("admin", "vehicle", bad, new=True)
    assert set(caught.value.fields) == {
        "break_latest_min",
        "max_weight_kg",
        "max_route_min",
        "fixed_cost",
    }
    assert desk.fleet()["vehicles"] == []


def test_an_orders_file_carries_skills_weight_volume_and_pairs(db: Database) -> None:
    text = (
        "order_id;lat;lon;kind;skills;weight;volume;pair\n"
        "P1;53.5;-2.2;pickup;;;;S1\n"
        "D1;53.6;-2.3;delivery;cold|lift;120;300;S1\n"
        "D2;53.6;-2.3;delivery;;heavy;;\n"
    )
    parsed = parse_orders(text.encode(), default_date=DAY, timezone=TZ.key)
    assert [str(e) for e in parsed.errors] == ["line 4: weight_kg 'heavy' is not a number"]
    with db.session() as session:
        assert fleet_repo.insert_orders(session, parsed.orders) == 2
    with db.session() as session:
        routes = fleet_repo.load_routes(session, DAY)
    day = build_day_plan(routes, [], TZ, day=DAY)
    by_ref = {v.order_ref: day.plan.stops[sid] for sid, v in day.stops.items()}
    assert by_ref["D1"].skills == {"cold", "lift"}
    assert (by_ref["D1"].weight, by_ref["D1"].volume, by_ref["D1"].pair) == (120, 300, "S1")
    assert by_ref["P1"].pair == "S1" and by_ref["P1"].weight == 0
