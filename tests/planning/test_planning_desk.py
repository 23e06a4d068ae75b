"""The route desk (dispatcher/planning/desk.py) with no window: save, conflict, undo/redo.

Every edit is one transaction with optimistic locking, then a retained route message per
changed vehicle and a sync note through the publisher, then one ``RoutesChanged`` on the bus
(the map re-reads on it). SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fleet_zone import DAY, TZ, demo_day, utc
from sqlalchemy import update

from dispatcher.clock import FakeClock
from dispatcher.events import EventBus
from dispatcher.model.core import StopStatus
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Stop
from dispatcher.planning.desk import RouteDesk, RoutesChanged
from dispatcher.planning.stop_eta import stop_etas
from dispatcher.users.desk import UserDesk

ACTOR = "ann"


class Broker:
    """Records what the desk publishes, as the MQTT client would send it."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Mapping[str, Any]]] = []
        self.notes: list[Mapping[str, Any]] = []

    def publish_route(self, vehicle_id: str, payload: Mapping[str, Any]) -> None:
        self.routes.append((vehicle_id, payload))

    def publish_sync(self, note: Mapping[str, Any]) -> None:
        self.notes.append(note)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    UserDesk(database).login(ACTOR)  # the first login: may edit routes
    yield database
    database.dispose()


def _desk(db: Database, bus: EventBus | None = None, *, actor: str = ACTOR) -> RouteDesk:
    return _desk_and_broker(db, bus, actor=actor)[0]


def _desk_and_broker(
    db: Database, bus: EventBus | None = None, *, actor: str = ACTOR
) -> tuple[RouteDesk, Broker]:
    def load(day: date | None) -> list[RouteView]:
        with db.session() as session:
            return fleet_repo.load_routes(session, day or DAY)

    broker = Broker()
    desk = RouteDesk(
        db,
        FakeClock(utc(7)),
        bus or EventBus(),
        TZ,
        load_routes=load,
        actor=lambda: actor,
        publisher=lambda: broker,
        console_id=lambda: "desk-a",
    )
    assert desk.load(day=DAY)
    return desk, broker


def _stored(db: Database) -> dict[str, list[str]]:
    with db.session() as session:
        routes = fleet_repo.load_routes(session, DAY)
    return {r.vehicle_id or "": [str(s.id) for s in r.stops] for r in routes}


def test_an_edit_is_saved_published_and_announced(db: Database) -> None:
    bus, heard = EventBus(), list[RoutesChanged]()
    bus.subscribe(RoutesChanged, heard.append)
    desk, broker = _desk_and_broker(db, bus)
    messages: list[str] = []
    desk.on_message = messages.append
    heard.clear()
    stop = desk.route("V01")[-1]

    assert desk.move([stop], "V02", 0)

    assert _stored(db)["V02"][0] == stop and stop not in _stored(db)["V01"]
    assert desk.saves == 1 and messages and messages[-1].startswith("Moved to V02")
    assert heard == [RoutesChanged(DAY, frozenset({"V01", "V02"}), "save")]
    assert sorted(v for v, _ in broker.routes) == ["V01", "V02"]
    assert {n["console_id"] for n in broker.notes} == {"desk-a"}
    assert {n["actor"] for n in broker.notes} == {ACTOR}


def test_a_stale_route_is_refused_and_the_day_reloaded(db: Database) -> None:
    first, second = _desk(db), _desk(db)  # both read the day before either saves
    bus_heard: list[RoutesChanged] = []
    second.bus.subscribe(RoutesChanged, bus_heard.append)
    messages: list[str] = []
    second.on_message = messages.append
    route = first.route("V01")
    assert first.move([route[0]], "V01", len(route))

    assert not second.move([route[1]], "V01", len(route))

    assert any("Not saved" in m and "reloaded" in m for m in messages), messages
    assert second.route("V01") == _stored(db)["V01"]  # it now shows the first desk's save
    assert [e.source for e in bus_heard] == ["reload"]
    assert second.saves == 0


def test_undo_and_redo_are_saved_too(db: Database) -> None:
    desk = _desk(db)
    before = _stored(db)
    stop = desk.route("V03")[0]
    assert desk.move([stop], "V04", 0)
    after = _stored(db)

    assert desk.undo()
    assert _stored(db) == before and desk.route("V03") == before["V03"]
    assert desk.redo()
    assert _stored(db) == after
    assert desk.saves == 3
    assert not desk.redo()  # nothing left to redo


def test_a_refused_save_is_taken_back(db: Database) -> None:
    """Someone who may not edit routes: the board shows what is stored, and says why."""
    desk, broker = _desk_and_broker(db, actor="mallory")
    messages: list[str] = []
    desk.on_message = messages.append
    before = _stored(db)
    stop = desk.route("V01")[0]

    assert not desk.move([stop], "V02", 0)

    assert _stored(db) == before
    assert desk.route("V01") == before["V01"] and desk.route("V02") == before["V02"]
    assert messages and "taken back" in messages[-1]
    assert broker.routes == []


def test_another_desks_save_is_merged_and_announced(db: Database) -> None:
    """What ui/dispatcher_ui/routes/live does on a sync note: read in a worker, merge on the GUI
    thread."""
    first, second = _desk(db), _desk(db)
    heard: list[RoutesChanged] = []
    second.bus.subscribe(RoutesChanged, heard.append)
    route = first.route("V02")
    assert first.move([route[0]], "V02", len(route))
    assert second.move([second.route("V05")[0]], "V05", 2)  # an undo step on another route

    routes, vehicles = second.read_routes(DAY)
    heard.clear()
    assert second.merge_remote(routes, vehicles, ["V02"]) == 0  # the V05 step stays

    assert second.route("V02") == _stored(db)["V02"]
    assert heard == [RoutesChanged(DAY, frozenset(), "remote")]
    assert second.undo() and second.route("V05") == _stored(db)["V05"]


def test_a_live_refresh_computed_elsewhere_is_shown_unless_the_plan_changed(
    db: Database,
) -> None:
    """The ETAs' live refresh runs off the GUI thread (a fleet's day, bench/console.py): its
    result is shown when the plan is as it was, dropped after an edit made meanwhile."""
    desk = _desk(db)
    assert desk.day is not None
    vid = next(v for v, r in desk.day.plan.routes.items() if len(r) >= 2)
    here = desk.day.plan.stops[desk.day.plan.routes[vid][0]].location
    desk._positions = lambda: {vid: here}
    desk._last_refresh = -1e9
    job = desk.live_refresh_job()
    assert job is not None and desk.live_refresh_job() is None  # one per REFRESH_EVERY_S
    times: list[int] = []
    desk.on_times = lambda: times.append(1)
    assert desk.apply_live_refresh(job())
    assert desk.day.plan.vehicles[vid].start == here and times == [1]

    desk._last_refresh = -1e9
    job = desk.live_refresh_job()
    assert job is not None
    route = desk.day.plan.routes[vid]
    assert desk.move([route[1]], vid, 0)  # an edit while the refresh ran
    assert not desk.apply_live_refresh(job())
    assert times == [1]


def test_a_move_that_breaks_a_skill_is_made_only_when_confirmed(db: Database) -> None:
    """``confirm`` (the keyboard's and the menu's question) sees what the move would break;
    no keeps the plan and says why, yes moves, and undo takes it back."""
    desk = _desk(db)
    assert desk.day is not None
    plan = desk.day.plan
    sid = plan.routes["V04"][0]
    plan.stops[sid] = replace(plan.stops[sid], skills=frozenset({"cold"}))
    plan.vehicles["V04"] = replace(plan.vehicles["V04"], skills=frozenset({"cold"}))
    messages: list[str] = []
    desk.on_message = messages.append
    asked: list[list[str]] = []
    before = {v: list(r) for v, r in plan.routes.items()}

    def no(problems: list[str]) -> bool:
        asked.append(problems)
        return False

    assert not desk.move([sid], "V12", -1, no)
    ref = desk.day.stops[sid].order_ref
    assert asked == [[f"V12 lacks cold for stop {ref}"]]
    assert plan.routes == before
    assert messages[-1] == f"Not moved: it would break V12 lacks cold for stop {ref}"
    assert desk.move([sid], "V12", -1, lambda problems: True)
    assert plan.routes["V12"][-1] == sid
    assert desk.undo()
    assert plan.routes == before
    assert desk.move([sid], "V04", 3, no), "its own van has the skill: nothing to ask"
    assert len(asked) == 1


def _mark_done(db: Database, stop_id: str) -> None:
    """What the telemetry writer leaves on a stop its driver delivered."""
    with db.session() as session:
        session.execute(
            update(Stop)
            .where(Stop.id == int(stop_id))
            .values(status="done", actual_arrival=utc(10, 12))
        )


def test_progress_merged_elsewhere_is_shown_and_never_undoes_an_edit(db: Database) -> None:
    """The drivers' progress is merged into a copy of the plan off the GUI thread (a fleet's
    day, bench/console.py); the desk takes only what changed. An edit made while the job
    ran is kept: the progress read is merged again into the plan as it is now."""
    desk = _desk(db)
    assert desk.day is not None
    vid = next(v for v, r in desk.day.plan.routes.items() if len(r) >= 3)
    route = list(desk.day.plan.routes[vid])
    progressed: list[list[str]] = []
    desk.on_progressed = progressed.append

    _mark_done(db, route[1])  # served out of order
    job = desk.progress_job(desk.day.day)
    assert job is not None
    prepared = job()  # "in the worker": the desk's plan is untouched so far
    assert desk.day.plan.stops[route[1]].status is not StopStatus.DONE
    merge = desk.apply_progress(prepared)
    assert merge.changed == [route[1]] and progressed == [[route[1]]]
    assert desk.day.plan.stops[route[1]].status is StopStatus.DONE
    assert desk.day.plan.routes[vid][0] == route[1]  # done stops first
    assert desk.evaluation is not None
    assert desk.etas == stop_etas(desk.day, desk.evaluation)  # the ETAs follow
    assert desk.undo_stack is not None and not desk.undo_stack.can_undo  # not an edit

    _mark_done(db, route[2])
    job = desk.progress_job(desk.day.day)
    assert job is not None
    prepared = job()
    now = list(desk.day.plan.routes[vid])
    assert desk.move([now[-1]], vid, 1)  # the dispatcher's edit while the job ran
    edited = list(desk.day.plan.routes[vid])
    merge = desk.apply_progress(prepared)
    assert merge.changed == [route[2]]
    assert desk.day.plan.stops[route[2]].status is StopStatus.DONE
    assert now[-1] in desk.day.plan.routes[vid][:3]  # the edit is still there
    assert set(desk.day.plan.routes[vid]) == set(edited)
    assert desk.undo_stack.can_undo  # and still undoable
    assert desk.evaluation is not None
    assert desk.etas == stop_etas(desk.day, desk.evaluation)
