"""The demo day goes into the database and comes back as routes with ordered stops."""

from __future__ import annotations

from fleet_zone import demo_day

from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database


def test_demo_scenario_round_trips_through_the_database(database: Database) -> None:
    scenario = demo_day()
    with database.session() as session:
        fleet_repo.save_scenario(session, scenario)
    with database.session() as session:
        routes = fleet_repo.load_routes(session)
    assert len(routes) == 12
    assert sum(len(r.stops) for r in routes) == 250
    first = routes[0]
    assert [s.order_ref for s in first.stops] == scenario.routes[first.vehicle_id]
    assert [s.sequence for s in first.stops] == list(range(1, len(first.stops) + 1))
    windows = [s.window_start for r in routes for s in r.stops if s.window_start]
    assert all(w.tzinfo is not None for w in windows)


def test_orders_without_a_vehicle_are_listed_as_unassigned(database: Database) -> None:
    scenario = demo_day(n_orders=10, n_vehicles=2)
    scenario.routes = {v.id: [] for v in scenario.vehicles}
    with database.session() as session:
        fleet_repo.save_scenario(session, scenario)
    with database.session() as session:
        routes = fleet_repo.load_routes(session)
    assert routes[-1].vehicle_name == "Unassigned"
    assert len(routes[-1].stops) == 10
