"""A stop's position fixed by hand: stored, locked, audited, remembered, undone.

The core's side of Map > Fix position on map… (the console drives it in
tests/ui/test_map_pick.py). SQLite and PostgreSQL (``db_url``); the fleet is the demo's, on
the suite's day and in its zone (tests/fleet_zone.py); the geocoder is on loopback, down, or
off — never the internet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day
from sqlalchemy import event, select

from dispatcher.errors import ConflictError, PermissionDenied, ValidationError
from dispatcher.geocoding import MANUAL, Geocoder, GeocodingSettings, manual_key
from dispatcher.importing.service import import_orders
from dispatcher.model.stops import StopView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.geocode_repo import SqlGeocodeCache
from dispatcher.persistence.orm import AuditEntry, GeocodeCacheRow, Route, Stop
from dispatcher.persistence.stop_position_repo import (
    fix_stop_position,
    read_stop_place,
    undo_position_fix,
)
from dispatcher.users.desk import UserDesk

ANN, BOB = "ann", "bob"
#: A few kilometres off the demo's stop: far enough for the ETAs to move.
SPOT = (52.4711, 13.5212)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    desk = UserDesk(database)
    desk.login(ANN)  # the first login: admin
    desk.add(ANN, BOB, "dispatcher")
    desk.add(ANN, "vic", "viewer")
    yield database
    database.dispose()


def first_stop(db: Database, vehicle: str = "V01") -> StopView:
    with db.session() as session:
        routes = {r.vehicle_id: r for r in fleet_repo.load_routes(session, DAY)}
    return routes[vehicle].stops[-1]  # the last: still pending in the demo


def fix(db: Database, stop_id: int, lat: float, lon: float, actor: str = ANN, **kw: Any) -> Any:
    with db.session() as session:
        version = kw.pop("version", None) or read_stop_place(session, stop_id).version
    with db.session() as session:
        return fix_stop_position(session, stop_id, lat, lon, expected_version=version, actor=actor)


def stored(db: Database, stop_id: int) -> tuple[float, float]:
    with db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None
        return stop.lat, stop.lon


def test_a_fix_moves_the_stop_bumps_its_route_and_is_audited_under_the_user(
    db: Database,
) -> None:
    stop = first_stop(db)
    with db.session() as session:
        place = read_stop_place(session, stop.id)
        route_version = session.scalar(select(Route.version).where(Route.vehicle_id == "V01"))
    assert place.title() == f"{stop.customer_name}, {stop.address}"
    done = fix(db, stop.id, *SPOT, actor=BOB)
    assert stored(db, stop.id) == SPOT
    assert done.before == (stop.lat, stop.lon) and done.after == SPOT
    assert done.version == place.version + 1
    assert done.route is not None and done.route.vehicle_id == "V01"
    assert done.route.version == (route_version or 0) + 1
    with db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "stop.position"))
        rows = list(audit)
        route = session.get(Route, done.route.route_id)
        assert route is not None and route.updated_by == BOB
    assert [(r.actor, r.entity_id) for r in rows] == [(BOB, str(stop.id))]
    assert rows[0].before == {"order": stop.order_ref, "lat": stop.lat, "lon": stop.lon}
    assert rows[0].after == {"lat": SPOT[0], "lon": SPOT[1], "undo": False, "pin": True}


def test_the_fix_becomes_the_pin_of_the_address_for_every_later_import(
    db: Database, tmp_path: Path, closed_url: str
) -> None:
    """Re-importing the address lands on the pin: with the provider down, and with it off."""
    stop = first_stop(db)
    fix(db, stop.id, *SPOT)
    with db.session() as session:
        row = session.get(GeocodeCacheRow, manual_key(stop.address))
        assert row is not None and row.provider == MANUAL and (row.lat, row.lon) == SPOT
    csv = tmp_path / "again.csv"
    text = stop.address.replace('"', "")
    csv.write_text(f'order_id,customer_name,address\nAGAIN-1,Ann,"  {text.upper()} "\n')
    for name, settings in (
        ("down", GeocodingSettings(url=closed_url, min_delay_s=0, timeout_s=1)),
        ("off", GeocodingSettings(provider="none")),
    ):
        report = import_orders(
            db,
            csv,
            default_date=DAY,
            timezone=TZ_NAME,
            actor=ANN,
            dry_run=name == "down",
            geocoder=Geocoder(settings, SqlGeocodeCache(db)),
        )
        assert report.errors == [], name
        assert report.by_hand == 1 and "1 of them where a pin was set by hand" in report.summary()
    with db.session() as session:
        again = session.scalar(select(Stop).where(Stop.order_ref == "AGAIN-1"))
        assert again is not None and (again.lat, again.lon) == SPOT


def test_a_fix_made_from_a_stale_read_is_refused_and_the_other_desk_kept(
    db: Database,
) -> None:
    stop = first_stop(db)
    with db.session() as session:
        seen = read_stop_place(session, stop.id)  # desk A starts its pick mode
    fix(db, stop.id, 52.50, 13.30, actor=BOB)  # desk B fixes the same order meanwhile
    with pytest.raises(ConflictError, match="changed by another workstation"):
        fix(db, stop.id, *SPOT, actor=ANN, version=seen.version)
    assert stored(db, stop.id) == (52.50, 13.30)
    with db.session() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "stop.position")
        ).all()
    assert actors == [BOB]


def test_a_write_landing_between_read_and_update_is_caught_by_the_version_column(
    db: Database,
) -> None:
    """Both desks read version v; B waits inside its transaction while A commits."""
    stop = first_stop(db)
    with db.session() as session:
        version = read_stop_place(session, stop.id).version
    b_read, a_committed = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def desk_b() -> None:
        try:
            with db.session() as session:

                @event.listens_for(session, "before_flush")
                def wait_for_a(*_: Any) -> None:
                    b_read.set()
                    a_committed.wait(timeout=30)

                fix_stop_position(
                    session, stop.id, 52.50, 13.30, expected_version=version, actor=BOB
                )
            outcome["b"] = "ok"
        except ConflictError as exc:
            outcome["b"] = exc

    thread = threading.Thread(target=desk_b)
    thread.start()
    assert b_read.wait(timeout=30)
    fix(db, stop.id, *SPOT, actor=ANN, version=version)  # desk A, while B sits before its write
    a_committed.set()
    thread.join(timeout=60)
    assert isinstance(outcome.get("b"), ConflictError), outcome
    assert stored(db, stop.id) == SPOT


def test_a_viewer_may_not_fix_a_position(db: Database) -> None:
    stop = first_stop(db)
    with pytest.raises(PermissionDenied, match="vic has the viewer role and cannot fix"):
        fix(db, stop.id, *SPOT, actor="vic")
    with pytest.raises(PermissionDenied, match="not a user"):
        fix(db, stop.id, *SPOT, actor="mallory")
    assert stored(db, stop.id) == (stop.lat, stop.lon)


@pytest.mark.parametrize(
    ("lat", "lon", "reason"),
    [
        (0.0, 0.0, "0,0 is the mark of a failed geocode"),
        (0.000001, -0.000002, "0,0 is the mark"),
        (91.0, 13.4, "latitude 91.00000 is outside -90 to 90"),
        (52.5, 193.4, "longitude 193.40000 is outside -180 to 180"),
        (float("nan"), 13.4, "not a position"),
        (52.5, float("inf"), "not a position"),
    ],
)
def test_a_position_that_is_none_is_refused_with_the_reason(
    db: Database, lat: float, lon: float, reason: str
) -> None:
    stop = first_stop(db)
    with pytest.raises(ValidationError, match=reason):
        fix(db, stop.id, lat, lon)
    assert stored(db, stop.id) == (stop.lat, stop.lon)


def test_an_undo_puts_the_stop_and_the_pin_back(db: Database) -> None:
    stop = first_stop(db)
    first = fix(db, stop.id, 52.50, 13.30)
    second = fix(db, stop.id, *SPOT, actor=BOB)
    assert second.pin_before == (52.50, 13.30)
    with db.session() as session:
        back = undo_position_fix(session, second, actor=BOB)
    assert stored(db, stop.id) == (52.50, 13.30) and back.version == second.version + 1
    with db.session() as session:
        pin = session.get(GeocodeCacheRow, manual_key(stop.address))
        assert pin is not None and (pin.lat, pin.lon) == (52.50, 13.30)
    # the first fix's undo, made from a version that moved on: refused
    with pytest.raises(ConflictError), db.session() as session:
        undo_position_fix(session, first, actor=ANN)
    with db.session() as session:
        undo_position_fix(session, _made_from(first, back.version), actor=ANN)
    assert stored(db, stop.id) == (stop.lat, stop.lon)
    with db.session() as session:
        assert session.get(GeocodeCacheRow, manual_key(stop.address)) is None
        undos = session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == "stop.position")
        ).all()
    assert [a["undo"] for a in undos] == [False, False, True, True]


def _made_from(fix: Any, version: int) -> Any:
    from dataclasses import replace

    return replace(fix, version=version)


def test_a_delivered_stop_keeps_its_position(db: Database) -> None:
    stop = first_stop(db)
    with db.session() as session:
        row = session.get(Stop, stop.id)
        assert row is not None
        row.status = "done"
    with pytest.raises(ValidationError, match="delivered already"):
        fix(db, stop.id, *SPOT)
    assert stored(db, stop.id) == (stop.lat, stop.lon)
