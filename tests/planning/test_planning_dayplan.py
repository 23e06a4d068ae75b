"""The board's day plan: stored routes in, repaired where needed; saves with optimistic locks.

Runs on SQLite and PostgreSQL (``db_url``): two workstations editing one route must get a
conflict, never a lost update, on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day, utc
from planning_builders import random_plan

from dispatcher.errors import ConflictError, ValidationError
from dispatcher.eta.travel import HaversineProvider
from dispatcher.model.core import DeliveryEventKind, EventReport, StopStatus
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.planning import MoveWithinRoute, SetLocks, Unassign, UndoStack
from dispatcher.planning.dayplan import build_day_plan, route_message
from dispatcher.planning.evaluate import evaluate_route
from dispatcher.planning.model import PlanMatrix


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    yield database
    database.dispose()


def load(db: Database) -> tuple[list[RouteView], list[fleet_repo.VehicleView]]:
    with db.session() as session:
        return fleet_repo.load_routes(session, DAY), fleet_repo.load_vehicles(session)


def test_the_plan_holds_every_stored_route_in_order(db: Database) -> None:
    routes, vehicles = load(db)
    day = build_day_plan(routes, vehicles, TZ_NAME)
    assert day.day == DAY and not day.problems
    for r in routes:
        assert day.plan.routes[r.vehicle_id] == [str(s.id) for s in r.stops]
        assert day.db_versions[r.vehicle_id] == r.version
    stop = next(s for r in routes for s in r.stops if s.window_start is not None)
    assert stop.window_start is not None
    assert day.clock_time(day.plan.stops[str(stop.id)].window_start) == stop.window_start


def test_vehicles_start_live_once_on_the_road_with_what_they_loaded(db: Database) -> None:
    day = build_day_plan(*load(db), TZ_NAME)
    v = day.plan.vehicles["V01"]
    noon = day.clock_time(12 * 3600.0)
    day.place_vehicles({"V01": (52.5, 13.4)}, noon)
    placed = day.plan.vehicles["V01"]
    assert placed.start == (52.5, 13.4) and placed.start_time == 12 * 3600.0
    assert placed.current_load == day.on_board["V01"] > 0
    v02 = day.plan.vehicles["V02"]  # no fix at noon: still at the depot, leaves from now
    assert v02.start == v.end and v02.start_time is None and v02.current_load is None
    assert v02.shift_start == 12 * 3600.0
    day.place_vehicles({}, day.clock_time(7 * 3600.0))  # before the shifts begin
    assert day.plan.vehicles["V01"].start_time is None


def test_a_vehicle_with_no_fix_on_the_live_day_leaves_now_not_at_shift_start(
    db: Database,
) -> None:
    """The queue predicts from now (live_eta.predict_route); the boards must agree."""
    day = build_day_plan(*load(db), TZ_NAME)
    v = day.plan.vehicles["V01"]
    noon = day.clock_time(12 * 3600.0)
    day.place_vehicles({}, noon)
    at_depot = day.plan.vehicles["V01"]
    assert at_depot.start == v.end and at_depot.start_time is None
    assert at_depot.departure == 12 * 3600.0 and at_depot.shift_end == v.shift_end
    pm = PlanMatrix.build(day.plan, HaversineProvider())
    from_depot = evaluate_route(pm, at_depot, day.plan.routes["V01"], day.plan)
    assert float(from_depot.arrival.min()) >= 12 * 3600.0
    first = day.plan.routes["V01"][0]
    day.plan.stops[first] = replace(day.plan.stops[first], status=StopStatus.DONE)
    day.place_vehicles({}, noon)
    placed = day.plan.vehicles["V01"]
    assert placed.start == day.plan.stops[first].location
    assert placed.current_load == day.on_board["V01"] and placed.start_time == 12 * 3600.0
    pm = PlanMatrix.build(day.plan, HaversineProvider())
    evaluation = evaluate_route(pm, placed, day.plan.routes["V01"], day.plan)
    assert len(evaluation.arrival) and float(evaluation.arrival.min()) >= 12 * 3600.0
    day.place_vehicles({}, noon - timedelta(days=1))  # tomorrow's plan, looked at today
    assert day.plan.vehicles["V01"].start_time is None
    assert day.plan.vehicles["V01"].shift_start == v.shift_start  # the shift as planned


def test_bad_stored_data_is_repaired_and_reported(db: Database) -> None:
    routes, vehicles = load(db)
    r = routes[0]
    stops = list(r.stops)
    stops[3] = replace(stops[3], status="done")  # served out of order
    start = stops[4].window_start
    assert start is not None
    stops[4] = replace(stops[4], window_end=start.replace(hour=1))
    routes[0] = replace(r, stops=tuple(stops))
    day = build_day_plan(routes, vehicles, TZ_NAME)
    assert day.plan.routes[r.vehicle_id][0] == str(stops[3].id)
    assert any("out of order" in p for p in day.problems)
    assert any("window ends before it starts" in p for p in day.problems)


def writes(day_route: list[str]) -> tuple[fleet_repo.StopWrite, ...]:
    return tuple(fleet_repo.StopWrite(int(s)) for s in day_route)


def test_saving_checks_the_version_and_stores_order_and_locks(db: Database) -> None:
    day = build_day_plan(*load(db), TZ_NAME)
    route = list(reversed(day.plan.routes["V03"]))
    pinned = fleet_repo.StopWrite(int(route[0]), pinned=True, lock_group="g1")
    with db.session() as session:
        saved = save_as_desk2(
            session,
            DAY,
            [fleet_repo.RouteWrite("V03", day.db_versions["V03"], (pinned, *writes(route[1:])))],
        )
    route_id, version = saved["V03"]
    assert version > day.db_versions["V03"]
    again = build_day_plan(*load(db), TZ_NAME)
    assert again.plan.routes["V03"] == route
    assert again.plan.stops[route[0]].pinned and again.plan.stops[route[0]].order_group == "g1"
    with db.session() as session:
        assert session.query(AuditEntry).filter_by(entity_id=str(route_id)).count() == 1
    with pytest.raises(ConflictError, match="another workstation"), db.session() as session:
        save_as_desk2(  # the old version: someone saved in between
            session, DAY, [fleet_repo.RouteWrite("V03", day.db_versions["V03"], writes(route))]
        )


def test_taking_a_stop_from_a_route_not_read_is_a_conflict(db: Database) -> None:
    day = build_day_plan(*load(db), TZ_NAME)
    stolen = day.plan.routes["V02"][0]
    with pytest.raises(ConflictError, match="moved to another route"), db.session() as session:
        save_as_desk2(
            session,
            DAY,
            [
                fleet_repo.RouteWrite(
                    "V01", day.db_versions["V01"], writes([stolen, *day.plan.routes["V01"]])
                )
            ],
        )
    assert build_day_plan(*load(db), TZ_NAME).plan.routes["V02"][0] == stolen


def test_route_message_follows_the_protocol(db: Database) -> None:
    day = build_day_plan(*load(db), TZ_NAME)
    first = day.plan.routes["V01"][0]
    day.plan.stops[first] = replace(day.plan.stops[first], status=StopStatus.DONE)
    msg = route_message(day, "V01", 7, utc(10, 0))
    assert msg["version"] == 7 and msg["ts"] == f"{utc(10, 0):%Y-%m-%dT%H:%M:%S}Z"
    stops = msg["stops"]
    assert [s["seq"] for s in stops] == list(range(1, len(stops) + 1))
    assert [s["status"] for s in stops[:3]] == ["done", "next", "pending"]
    windowed = [s for s in stops if s["window"]["start"] is not None]
    assert windowed and all(s["window"]["start"].endswith("Z") for s in windowed)
    assert {"stop_id", "seq", "kind", "lat", "lon"} <= set(stops[0])


def test_set_locks_is_undone_exactly_and_groups_stay_on_one_route() -> None:
    plan = random_plan(3, n_stops=10)
    stack = UndoStack(plan)
    before = dict(plan.stops)
    ids = plan.routes["v0"][:2]
    stack.push(SetLocks(ids, pinned=True, order_group="a"))
    assert all(plan.stops[s].pinned and plan.stops[s].order_group == "a" for s in ids)
    stack.push(SetLocks(ids[:1], order_group=None))
    assert plan.stops[ids[0]].order_group is None and plan.stops[ids[0]].pinned
    stack.undo()
    stack.undo()
    assert plan.stops == before
    with pytest.raises(ValidationError, match="one route"):
        SetLocks([plan.routes["v0"][0], plan.routes["v1"][0]], order_group="b").do(plan)


# -- drivers' progress merged live (route boards without F5) ------------------------------


def report(vehicle_id: str, ref: str, kind: DeliveryEventKind, minute: int) -> EventReport:
    ts = utc(10, minute)
    return EventReport(vehicle_id, ts, kind, f"{ref}-{kind}-{minute}", stop_id=ref)


def test_a_delivery_recorded_by_telemetry_shows_in_place_and_undo_keeps_its_history(
    db: Database,
) -> None:
    """Statuses are not route edits: they merge without a reload, and the one undo that
    would move a stop delivered meanwhile is refused while the others still work."""
    day = build_day_plan(*load(db), TZ_NAME)
    stack = UndoStack(day.plan)
    route = list(day.plan.routes["V04"])
    stack.push(MoveWithinRoute("V04", [route[2]], 0))  # the dispatcher moves the 3rd stop first
    stack.push(MoveWithinRoute("V04", [route[5]], 4))
    day.place_vehicles({"V04": (52.5, 13.4)}, day.clock_time(10 * 3600.0))  # on the road
    loaded = day.on_board["V04"]
    served = day.stops[route[3]]  # the driver serves another stop, out of the plan's order
    SqlTelemetrySink(db).write_events(
        [
            report("V04", served.order_ref, DeliveryEventKind.ARRIVED, 5),
            report("V04", served.order_ref, DeliveryEventKind.DELIVERED, 9),
        ]
    )
    with db.session() as session:
        progress = fleet_repo.load_stop_progress(session, DAY)

    merge = day.merge_progress(progress)

    sid = str(served.id)
    assert merge.changed == [sid] and merge.reordered == {"V04"}
    assert day.plan.stops[sid].status is StopStatus.DONE
    assert day.stops[sid].actual_arrival == utc(10, 5)
    assert day.plan.routes["V04"][0] == sid  # done stops first
    assert day.on_board["V04"] == loaded - served.demand
    assert day.plan.vehicles["V04"].current_load == day.on_board["V04"]  # ETAs use it at once
    day.plan.validate()
    assert day.merge_progress(progress).changed == []  # nothing new the second time
    with pytest.raises(ValidationError, match="done now; undoing would move it"):
        stack.undo()
    assert stack.can_undo and day.plan.stops[sid].status is StopStatus.DONE


def test_undo_restores_locks_but_never_a_drivers_status(db: Database) -> None:
    day = build_day_plan(*load(db), TZ_NAME)
    stack = UndoStack(day.plan)
    last = day.plan.routes["V06"][-1]
    stack.push(SetLocks([last], pinned=True))
    day.merge_progress({int(last): fleet_repo.StopProgress("failed", None)})
    assert day.plan.routes["V06"][0] == last  # a failed attempt is final: it leads the route
    stack.undo()  # the pin goes; the failure stays (the stop did not move)
    stop = day.plan.stops[last]
    assert not stop.pinned and stop.status is StopStatus.FAILED


def test_a_stop_reported_served_on_no_route_is_listed_not_merged(db: Database) -> None:
    routes, vehicles = load(db)
    day = build_day_plan(routes, vehicles, TZ_NAME)
    stack = UndoStack(day.plan)
    sid = day.plan.routes["V02"][4]
    stack.push(Unassign([sid]))
    progress = {int(sid): fleet_repo.StopProgress("done", None), 10**9: None}  # unknown: unread
    merge = day.merge_progress(progress)  # type: ignore[arg-type]  # None for the unknown id
    assert merge.not_on_route == [sid] and not merge.changed
    assert day.plan.stops[sid].status is StopStatus.PENDING
    day.plan.validate()


def save_as_desk2(session: Any, *args: Any) -> dict[str, tuple[int, int]]:
    """Save routes as another desk's user (the core checks the actor's role)."""
    from dispatcher.persistence import users_repo

    return fleet_repo.save_routes(session, *args, actor=users_repo.login(session, "desk2").id)


def test_many_vehicles_served_out_of_order_make_one_short_line(db: Database) -> None:
    routes, vehicles = load(db)
    for i, r in enumerate(routes):
        stops = list(r.stops)
        stops[3] = replace(stops[3], status="done")  # served before the three before it
        routes[i] = replace(r, stops=tuple(stops))
    day = build_day_plan(routes, vehicles, TZ_NAME)
    lines = [p for p in day.problems if "out of order" in p]
    assert len(lines) == 1
    named = ", ".join(r.vehicle_id for r in routes[:3])
    more = len(routes) - 3
    assert lines[0] == (
        f"stops were served out of order on {named} and {more} more; done stops shown first"
    )
