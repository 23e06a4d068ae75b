"""Users and roles: the first login is admin, admins manage users, every refusal says why."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher.cli import build_parser, run_headless
from dispatcher.config import Settings
from dispatcher.errors import PermissionDenied, ValidationError
from dispatcher.model.users import Permission, Role, User, allowed, require
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry
from dispatcher.users.desk import UserDesk, os_account


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def test_the_permission_table_by_role() -> None:
    def may(role: Role) -> set[Permission]:
        return {p for p in Permission if allowed(User("x", role), p)}

    assert may(Role.VIEWER) == set()
    assert Permission.EDIT_ROUTES in may(Role.DISPATCHER)
    assert {Permission.FLEET_SETUP, Permission.MANAGE_USERS} & may(Role.DISPATCHER) == set()
    assert Permission.FLEET_SETUP in may(Role.SUPERVISOR)
    assert Permission.MANAGE_USERS not in may(Role.SUPERVISOR)
    assert may(Role.ADMIN) == set(Permission)
    with pytest.raises(PermissionDenied, match="vic has the viewer role and cannot edit routes"):
        require(User("vic", Role.VIEWER), Permission.EDIT_ROUTES)


def test_first_login_is_admin_later_ones_dispatchers(db: Database) -> None:
    desk = UserDesk(db)
    assert desk.login("alice").role is Role.ADMIN
    assert desk.login("bob").role is Role.DISPATCHER
    assert desk.login("alice").role is Role.ADMIN, "the same row, not a new one"
    assert [u.username for u in desk.users()] == ["alice", "bob"]


def test_admin_adds_and_promotes_others_are_refused_and_it_is_audited(db: Database) -> None:
    desk = UserDesk(db)
    desk.login("alice")
    desk.login("bob")
    with pytest.raises(PermissionDenied, match="bob has the dispatcher role"):
        desk.add("bob", "carl", "admin")
    desk.add("alice", "sue", "supervisor", display_name="Sue", os_user="susan")
    assert desk.login("susan") == User("sue", Role.SUPERVISOR, "Sue"), "OS login maps to sue"
    with pytest.raises(PermissionDenied):
        desk.set_role("sue", "bob", "admin")
    desk.set_role("alice", "bob", "viewer")
    desk.set_active("alice", "sue", False)
    assert desk.login("susan").role is Role.VIEWER, "an inactive user only looks"
    with db.session() as session:
        audit = [(a.actor, a.action, a.entity_id) for a in session.scalars(select(AuditEntry))]
    assert ("alice", "user.create", "sue") in audit
    assert ("alice", "user.role", "bob") in audit
    assert ("alice", "user.active", "sue") in audit


def test_bad_user_input_is_refused_with_the_field(db: Database) -> None:
    desk = UserDesk(db)
    desk.login("alice")
    with pytest.raises(ValidationError, match="username: 'a b'"):
        desk.add("alice", "a b", "viewer")
    with pytest.raises(ValidationError, match="role: 'boss' is not one of"):
        desk.add("alice", "carl", "boss")
    with pytest.raises(ValidationError, match="already exists"):
        desk.add("alice", "alice", "viewer")
    with pytest.raises(ValidationError, match="alice is the last admin"):
        desk.set_role("alice", "alice", "viewer")
    assert [u.username for u in desk.users()] == ["alice"]


def cli(db_url: str, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args([*argv, "--db", db_url])
    out = io.StringIO()
    return run_headless(args, Settings(database_url=db_url), out), out.getvalue()


def test_users_cli_add_list_set_role(db_url: str) -> None:
    me = os_account()
    assert cli(db_url, "users", "add", "sue", "--role", "supervisor") == (
        0,
        "added sue as supervisor\n",
    )
    assert cli(db_url, "users", "set-role", "sue", "dispatcher")[0] == 0
    code, out = cli(db_url, "users", "list", "--json")
    rows = {u["username"]: u["role"] for u in json.loads(out)}
    assert code == 0 and rows == {me: "admin", "sue": "dispatcher"}
    code, out = cli(db_url, "users", "add", "bad name", "--role", "viewer")
    assert code == 2 and "username:" in out


def test_route_saves_and_imports_are_refused_to_a_viewer_and_audited_with_the_actor(
    db: Database, tmp_path: Path
) -> None:
    from datetime import date

    from dispatcher.importing.service import import_orders
    from dispatcher.persistence import fleet_repo
    from dispatcher.scenario.demo import demo_scenario

    scenario = demo_scenario()
    with db.session() as session:
        fleet_repo.save_scenario(session, scenario)
    desk = UserDesk(db)
    desk.login("alice")
    desk.add("alice", "vic", "viewer")
    day: date = scenario.service_date
    with db.session() as session:
        route = {r.vehicle_id: r for r in fleet_repo.load_routes(session, day)}["V01"]
    write = fleet_repo.RouteWrite(
        "V01", route.version, tuple(fleet_repo.StopWrite(s.id) for s in reversed(route.stops))
    )
    refused = pytest.raises(PermissionDenied, match="vic has the viewer role and cannot edit")
    with refused, db.session() as session:
        fleet_repo.save_routes(session, day, [write], actor="vic")
    with db.session() as session:
        fleet_repo.save_routes(session, day, [write], actor="alice")
        edits = session.scalars(select(AuditEntry).where(AuditEntry.action == "route.edit"))
        assert [a.actor for a in edits] == ["alice"], "the real actor, not 'dispatcher'"
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,lat,lon\nX1,52.5,13.4\n", encoding="utf-8")
    with pytest.raises(PermissionDenied, match="cannot import orders"):
        import_orders(db, orders, default_date=day, timezone="UTC", actor="vic")
    report = import_orders(db, orders, default_date=day, timezone="UTC", actor="alice")
    assert report.inserted == 1


def test_a_login_taken_as_username_by_someone_else_maps_to_that_row(db: Database) -> None:
    """``sue`` (OS login susan) exists; the OS login ``sue`` is then sue's row, not a new one."""
    desk = UserDesk(db)
    desk.login("alice")
    desk.add("alice", "sue", "supervisor", os_user="susan")
    assert desk.login("sue").id == "sue"
    assert [u.username for u in desk.users()] == ["alice", "sue"]
