"""The SQL alert store honours the AlertStore contract on SQLite and PostgreSQL.

The contract checks live with the alerts room (``tests/alerts/store_contract.py``); each one
runs here inside one unit of work on a freshly migrated database of each backend. The
SQL-only promises follow: a conflict does not spoil the unit of work it happened in, a failed
unit of work leaves neither the alert nor its audit line, a second workstation's stale write
is refused, and the audit rows say what they are about.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.alerts import (
    AlertKind,
    AlertService,
    AlertStatus,
    Condition,
    ResolutionCode,
    Role,
    Severity,
    User,
)
from dispatcher.clock import FakeClock
from dispatcher.errors import ConflictError
from dispatcher.persistence.alert_repo import AUDIT_ENTITY, SqlAlertStore, alert_store
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry as AuditRow

_ALERTS_TESTS = Path(__file__).parents[1] / "alerts"


def _load(file_name: str, module_name: str) -> ModuleType:
    # Imported by path, not via sys.path: tests/messaging has a store_contract.py of its own.
    spec = importlib.util.spec_from_file_location(module_name, _ALERTS_TESTS / file_name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load("store_contract.py", "alerts_store_contract")
if "alerts_builders" not in sys.modules:  # the workflow machine imports it by this name
    sys.modules["alerts_builders"] = _load("alerts_builders.py", "alerts_builders")
machine = _load("test_alerts_workflow_machine.py", "alerts_workflow_machine")
new_alert = contract.new_alert
ALICE = User("alice", Role.DISPATCHER)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def make_store(db: Database) -> Iterator[Callable[[], SqlAlertStore]]:
    """Stores each in a unit of work of their own, committed when the test ends."""
    with ExitStack() as units:

        def make() -> SqlAlertStore:
            return SqlAlertStore(units.enter_context(db.session()))

        yield make


@pytest.mark.parametrize("check", contract.CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_sql_store_honours_the_alert_store_contract(
    check: Callable[[Any], None], make_store: Callable[[], SqlAlertStore]
) -> None:
    check(make_store)


def test_a_conflict_leaves_the_unit_of_work_usable(db: Database) -> None:
    with alert_store(db) as store:
        first = store.insert(new_alert())
        with pytest.raises(ConflictError):
            store.insert(new_alert(severity=Severity.LOW))
        with pytest.raises(ConflictError):
            store.update(dataclasses.replace(first, count=9), expected_version=7)
        store.update(dataclasses.replace(first, count=2), expected_version=1)
        store.insert(new_alert(subject="stop:S2"))
    with alert_store(db) as store:
        assert [(a.subject, a.count, a.version) for a in store.list_alerts()] == [
            ("stop:S1", 2, 2),
            ("stop:S2", 1, 1),
        ]


def test_a_failed_unit_of_work_keeps_neither_alert_nor_audit_line(db: Database) -> None:
    clock = FakeClock(contract.T0)
    condition = Condition(AlertKind.VEHICLE_OFFLINE, "vehicle:V1", Severity.HIGH, "V1 offline")
    with pytest.raises(RuntimeError), alert_store(db) as store:
        AlertService(store, clock).reconcile([condition], set(AlertKind))
        raise RuntimeError("the tick failed after the write")
    with alert_store(db) as store:
        assert store.list_alerts() == []
        assert store.list_audit() == []


def test_a_second_workstation_with_a_stale_version_is_refused(db: Database) -> None:
    with alert_store(db) as store:
        alert = store.insert(new_alert())
    with alert_store(db) as here:
        here.update(dataclasses.replace(alert, assignee="alice"), expected_version=1)
    with pytest.raises(ConflictError), alert_store(db) as there:
        there.update(dataclasses.replace(alert, assignee="bob"), expected_version=1)
    with alert_store(db) as store:
        assert store.get(alert.id or 0).assignee == "alice"


def test_the_service_keeps_its_history_in_the_shared_audit_log(db: Database) -> None:
    clock = FakeClock(contract.T0)
    condition = Condition(AlertKind.VEHICLE_OFFLINE, "vehicle:V1", Severity.HIGH, "V1 offline")
    with alert_store(db) as store:
        (raised,) = AlertService(store, clock).reconcile([condition], set(AlertKind)).raised
    assert raised.id is not None
    with alert_store(db) as store:
        service = AlertService(store, clock)
        assigned = service.assign(raised.id, ALICE, ALICE, raised.version)
        service.resolve(raised.id, ALICE, assigned.version, ResolutionCode.DRIVER_CONTACTED)
    with alert_store(db) as store:
        service = AlertService(store, clock)
        assert store.get(raised.id).status is AlertStatus.RESOLVED
        history = service.history(raised.id)
    assert [e.action for e in history] == ["raise", "assign", "resolve"]
    assert [e.after["version"] for e in history] == [1, 2, 3]
    with db.session() as session:
        rows = session.execute(select(AuditRow).order_by(AuditRow.id)).scalars().all()
        assert {(r.entity, r.entity_id) for r in rows} == {(AUDIT_ENTITY, str(raised.id))}


class SqlQueueMachine(machine.QueueMachine):  # type: ignore[name-defined]  # loaded by path
    """The workflow state machine of the alerts room, over the SQL store.

    Each run is one unit of work that is rolled back at the end, so every run starts from an
    empty queue without migrating a new database.
    """

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.session = Session(db.engine)
        self.store = SqlAlertStore(self.session)
        self.service = AlertService(self.store, self.clock)

    def teardown(self) -> None:
        self.session.rollback()
        self.session.close()


def test_no_sequence_of_actions_breaks_the_queue_over_sql(db: Database) -> None:
    run_state_machine_as_test(
        lambda: SqlQueueMachine(db),  # type: ignore[arg-type]  # a factory is accepted
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
