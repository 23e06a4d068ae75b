"""The desk (what front ends call) and ``dispatcher alerts`` on SQLite and PostgreSQL.

Who the user is (OS account -> users table, dispatcher on first use), one transaction and
one announcement per command, the core's refusals passed through, and the command line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from alerts_builders import T0, cond
from sqlalchemy import update

from dispatcher.alerts.desk import AlertDesk, alert_by_id
from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.workflow import AlertService
from dispatcher.cli import build_parser, run_headless
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from dispatcher.events import EventBus
from dispatcher.model.alerts import AlertKind, AlertStatus, ResolutionCode, Role, User
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import User as UserRow


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def heard() -> list[AlertsChanged]:
    return []


@pytest.fixture
def desk(db: Database, heard: list[AlertsChanged]) -> AlertDesk:
    bus = EventBus()
    bus.subscribe(AlertsChanged, heard.append)
    return AlertDesk(db, FakeClock(T0), bus)


def raise_two(db: Database) -> list[int]:
    with alert_store(db) as store:
        result = AlertService(store, FakeClock(T0)).reconcile(
            [cond(), cond(AlertKind.LATE, "stop:7", stop_id="7")], list(AlertKind)
        )
    return [a.id for a in result.raised if a.id is not None]


def test_a_new_os_account_becomes_a_dispatcher_once(desk: AlertDesk, db: Database) -> None:
    desk.login("root")  # the first login on an empty database is the admin
    me = desk.login("alice")
    assert me == User("alice", Role.DISPATCHER, "alice")
    assert desk.login("alice") == me
    assert [u.id for u in desk.users()] == ["alice", "root"]


def test_the_role_comes_from_the_users_table(desk: AlertDesk, db: Database) -> None:
    desk.login("sue")
    with db.session() as session:
        session.execute(update(UserRow).where(UserRow.username == "sue").values(role="supervisor"))
    assert desk.login("sue").role is Role.SUPERVISOR
    with db.session() as session:
        session.execute(update(UserRow).where(UserRow.username == "sue").values(role="boss"))
    assert desk.login("sue").role is Role.VIEWER, "an unknown role gets least privilege"


def test_a_command_is_one_transaction_and_one_announcement(
    desk: AlertDesk, db: Database, heard: list[AlertsChanged]
) -> None:
    first, _ = raise_two(db)
    me = desk.login("alice")
    [alert, _other] = desk.queue(me)
    done = desk.run(lambda s: s.acknowledge(first, me, alert.version))
    assert done.status is AlertStatus.ACKNOWLEDGED
    assert heard == [AlertsChanged(frozenset({first}), frozenset(), ChangeSource.USER)]
    assert [e.action for e in desk.history(first)] == ["raise", "acknowledge"]


def test_two_dispatchers_on_one_alert_one_wins_one_gets_a_sentence(
    desk: AlertDesk, db: Database
) -> None:
    first, _ = raise_two(db)
    alice, bob = desk.login("alice"), desk.login("bob")
    version = desk.queue(alice)[0].version
    desk.run(lambda s: s.assign(first, alice, alice, version))
    with pytest.raises(ConflictError, match="changed by alice"):
        desk.run(lambda s: s.assign(first, bob, bob, version))
    fresh = desk.queue(bob)[0]
    with pytest.raises(PermissionDenied, match="assigned to alice"):
        desk.run(lambda s: s.resolve(first, bob, fresh.version, ResolutionCode.DELIVERED))


def test_refusals_roll_back_and_are_not_announced(
    desk: AlertDesk, db: Database, heard: list[AlertsChanged]
) -> None:
    first, _ = raise_two(db)
    me = desk.login("alice")
    version = desk.queue(me)[0].version
    with pytest.raises(ValidationError):
        desk.run(lambda s: s.resolve(first, me, version, ResolutionCode.OTHER, ""))
    assert heard == [] and [e.action for e in desk.history(first)] == ["raise"]


def test_supervisor_figures_and_stop_info(desk: AlertDesk, db: Database) -> None:
    first, _ = raise_two(db)
    me = desk.login("alice")
    version = desk.queue(me)[0].version
    desk.run(lambda s: s.escalate(first, me, version, "customer angry"))
    stats, escalated = desk.supervisor_stats()
    assert [a.id for a in escalated] == [first]
    assert stats.tta_by_user["alice"].count == 1
    assert desk.stop_info(999) is None


def run_cli(db_url: str, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args(["alerts", "--db", db_url, *argv])
    out = io.StringIO()
    return run_headless(args, Settings(database_url=db_url), out), out.getvalue()


def test_one_alert_by_id_and_a_sentence_when_it_is_gone(db: Database) -> None:
    """What the replay bar asks for: the alert's own first sighting, read outside the UI."""
    first, _ = raise_two(db)
    assert alert_by_id(db, first).first_seen == T0
    with pytest.raises(NotFoundError):
        alert_by_id(db, first + 1000)


def test_cli_lists_open_alerts_as_a_table_and_as_json(db_url: str, db: Database) -> None:
    ids = raise_two(db)
    code, text = run_cli(db_url)
    assert code == 0 and "vehicle_offline" in text and "stop:7" in text
    code, text = run_cli(db_url, "--json", "--status", "all")
    assert code == 0 and sorted(a["id"] for a in json.loads(text)) == sorted(ids)
    code, text = run_cli(db_url, "--status", "closed")
    assert text == "No exceptions.\n"


def test_cli_refuses_an_unknown_status(db_url: str) -> None:
    with pytest.raises(ValidationError, match="unknown status 'opn'"):
        run_cli(db_url, "--status", "opn")
