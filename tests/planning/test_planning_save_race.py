"""Two desks drop the same unassigned stop onto two vans within one save window.

The route versions cannot catch it (each desk saves a different route), so each stop carries a
version of its own: the later desk's UPDATE finds the version moved on, and it gets a conflict
instead of an "ok" that silently overwrote the first desk (issue 15, finding 5). The race is
forced, not hoped for: desk B has read everything and waits just before it writes while desk
A saves and commits. SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

from dispatcher.errors import ConflictError
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario
from dispatcher.users.desk import UserDesk

DAY = date(2026, 11, 20)
ACTOR = "ann"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_scenario(DAY))
    UserDesk(database).login(ACTOR)  # the first login: may edit routes
    yield database
    database.dispose()


def _routes(db: Database) -> dict[str, RouteView]:
    with db.session() as session:
        return {r.vehicle_id: r for r in fleet_repo.load_routes(session, DAY)}


def _with_stop(route: RouteView, stop_id: int) -> fleet_repo.RouteWrite:
    ids = [stop_id, *(s.id for s in route.stops)]
    return fleet_repo.RouteWrite(
        route.vehicle_id, route.version, tuple(fleet_repo.StopWrite(i) for i in ids)
    )


def _an_unassigned_stop(db: Database) -> int:
    """Take the last stop off V01's route, so both desks see it unassigned."""
    route = _routes(db)["V01"]
    keep = tuple(fleet_repo.StopWrite(s.id) for s in route.stops[:-1])
    loose = route.stops[-1].id
    with db.session() as session:
        fleet_repo.save_routes(
            session,
            DAY,
            [fleet_repo.RouteWrite("V01", route.version, keep)],
            [fleet_repo.StopWrite(loose)],
            actor=ACTOR,
        )
    return loose


def test_the_same_stop_dropped_on_two_vans_at_once_has_one_winner(db: Database) -> None:
    stop = _an_unassigned_stop(db)
    routes = _routes(db)  # both desks read the day before either saves
    a_committed = threading.Event()
    b_read = threading.Event()
    outcome: dict[str, Any] = {}

    def desk_b() -> None:
        try:
            with db.session() as session:

                @event.listens_for(session, "before_flush")
                def wait_for_a(*_: Any) -> None:
                    b_read.set()
                    a_committed.wait(timeout=30)

                fleet_repo.save_routes(session, DAY, [_with_stop(routes["V03"], stop)], actor=ACTOR)
            outcome["b"] = "ok"
        except ConflictError as exc:
            outcome["b"] = exc

    thread = threading.Thread(target=desk_b)
    thread.start()
    assert b_read.wait(timeout=30)
    with db.session() as session:  # desk A, while B sits between its reads and its write
        fleet_repo.save_routes(session, DAY, [_with_stop(routes["V02"], stop)], actor=ACTOR)
    a_committed.set()
    thread.join(timeout=60)

    assert isinstance(outcome.get("b"), ConflictError), outcome
    after = _routes(db)
    assert after["V02"].stops[0].id == stop
    assert stop not in {s.id for s in after["V03"].stops}
    assert after["V03"].version == routes["V03"].version  # B changed nothing at all


def test_a_route_save_is_audited_under_the_person_who_made_it(db: Database) -> None:
    """Issue 24: route edits were all audited as "dispatcher". Now the desk's user is named in
    the audit row and on the route; someone who is not a user of the database is refused."""
    from sqlalchemy import select

    from dispatcher.errors import PermissionDenied
    from dispatcher.persistence.orm import AuditEntry, Route

    UserDesk(db).login("erika")
    route = _routes(db)["V02"]
    ids = tuple(fleet_repo.StopWrite(s.id) for s in reversed(route.stops))
    write = [fleet_repo.RouteWrite("V02", route.version, ids)]
    with pytest.raises(PermissionDenied), db.session() as session:
        fleet_repo.save_routes(session, DAY, write, actor="mallory")
    with db.session() as session:
        fleet_repo.save_routes(session, DAY, write, actor="erika")
    with db.session() as session:
        audited = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "route.edit")
        ).all()
        updated_by = session.scalar(select(Route.updated_by).where(Route.id == route.id))
    assert audited == ["erika"] and updated_by == "erika"
