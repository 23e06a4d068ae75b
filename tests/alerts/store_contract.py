"""The AlertStore contract as reusable checks: every store must pass all of them.

Each check takes a factory returning a fresh, empty store and fails (AssertionError or
pytest.raises) when the store breaks the contract written on
:mod:`dispatcher.alerts.store`. The in-memory store runs them in
``test_alerts_store_memory.py``; the SQL store runs the same list on SQLite and PostgreSQL.

``tests/messaging/store_contract.py`` has the same file name, so import this one by path
under a name of its own (a plain ``from store_contract import`` would pick whichever was
imported first)::

    import importlib.util, pathlib
    _path = pathlib.Path(__file__).parents[1] / "alerts" / "store_contract.py"
    _spec = importlib.util.spec_from_file_location("alerts_store_contract", _path)
    contract = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(contract)

    @pytest.mark.parametrize("check", contract.CONTRACT_CHECKS, ids=lambda c: c.__name__)
    def test_sql_alert_store(check, database):
        check(lambda: SqlAlertStore(database))   # a fresh, empty store per call
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatcher.alerts.store import AlertStore
from dispatcher.errors import ConflictError, NotFoundError
from dispatcher.model.alerts import (
    Alert,
    AlertFilter,
    AlertKind,
    AlertStatus,
    AuditEntry,
    ResolutionCode,
    Severity,
)

StoreFactory = Callable[[], AlertStore]
T0 = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)
OPEN = frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED})


def new_alert(**overrides: Any) -> Alert:
    """A plausible unsaved alert; override any field."""
    fields: dict[str, Any] = {
        "kind": AlertKind.LATE,
        "subject": "stop:S1",
        "severity": Severity.HIGH,
        "title": "Stop S1 (Mme Dupont) predicted 12 min late",
        "first_seen": T0,
        "opened_at": T0,
        "last_seen": T0,
        "details": {"late_min": 12.5, "basis": "predicted", "tags": ["a", "b"], "x": None},
        "vehicle_id": "V1",
        "stop_id": "S1",
        "sla_deadline": T0 + timedelta(minutes=20),
        "updated_at": T0,
        "updated_by": "system",
    }
    fields.update(overrides)
    return Alert(**fields)


def _closed(alert: Alert, at: datetime = T0) -> Alert:
    return dataclasses.replace(
        alert,
        status=AlertStatus.RESOLVED,
        resolved_at=at,
        resolved_by="alice",
        resolution_code=ResolutionCode.CUSTOMER_CONTACTED,
        cause_active=False,
    )


def check_insert_assigns_id_and_version_one(factory: StoreFactory) -> None:
    store = factory()
    first = store.insert(new_alert())
    second = store.insert(new_alert(subject="stop:S2"))
    assert first.id is not None and first.id > 0
    assert second.id is not None and second.id > first.id
    assert first.version == 1 and second.version == 1


def check_every_field_round_trips(factory: StoreFactory) -> None:
    store = factory()
    full = new_alert(
        status=AlertStatus.SNOOZED,
        count=3,
        cause_active=False,
        last_occurrence="evt-42",
        acknowledged_at=T0 + timedelta(minutes=1),
        acknowledged_by="alice",
        assignee="alice",
        assigned_at=T0 + timedelta(minutes=2),
        escalated_at=T0 + timedelta(minutes=3),
        escalated_by="bob",
        snoozed_until=T0 + timedelta(hours=1),
        status_before_snooze=AlertStatus.ASSIGNED,
        resolution_code=ResolutionCode.REROUTED,
        resolution_note="Calle Mayor 1 — ß, ü, 東京",
        auto_resolved=True,
        severity=Severity.CRITICAL,
    )
    stored = store.insert(full)
    assert stored == dataclasses.replace(full, id=stored.id, version=1)
    assert store.get(stored.id or 0) == stored
    assert store.get(stored.id or 0).first_seen.utcoffset() == timedelta(0)


def check_get_unknown_id_raises_not_found(factory: StoreFactory) -> None:
    with pytest.raises(NotFoundError):
        factory().get(999_999)


def check_second_open_alert_for_a_key_is_refused(factory: StoreFactory) -> None:
    store = factory()
    store.insert(new_alert())
    with pytest.raises(ConflictError):
        store.insert(new_alert(severity=Severity.LOW))
    store.insert(new_alert(kind=AlertKind.AT_RISK))  # other kind, same subject: fine
    store.insert(new_alert(subject="stop:S2"))  # same kind, other subject: fine
    assert len(store.list_alerts()) == 3


def check_closed_alerts_do_not_block_a_new_one(factory: StoreFactory) -> None:
    store = factory()
    old = store.insert(new_alert())
    store.update(_closed(old), expected_version=1)
    again = store.insert(new_alert())
    assert again.id != old.id
    assert store.get_open(AlertKind.LATE, "stop:S1") == again


def check_update_with_current_version_bumps_it(factory: StoreFactory) -> None:
    store = factory()
    alert = store.insert(new_alert())
    changed = dataclasses.replace(alert, status=AlertStatus.ACKNOWLEDGED, acknowledged_by="al")
    written = store.update(changed, expected_version=1)
    assert written == dataclasses.replace(changed, version=2)
    assert store.get(alert.id or 0) == written
    again = store.update(dataclasses.replace(written, count=2), expected_version=2)
    assert again.version == 3 and again.count == 2


def check_update_with_stale_version_conflicts_and_writes_nothing(factory: StoreFactory) -> None:
    store = factory()
    alert = store.insert(new_alert())
    store.update(dataclasses.replace(alert, assignee="alice"), expected_version=1)
    with pytest.raises(ConflictError):
        store.update(dataclasses.replace(alert, assignee="bob"), expected_version=1)
    current = store.get(alert.id or 0)
    assert current.assignee == "alice" and current.version == 2


def check_update_of_unknown_id_raises_not_found(factory: StoreFactory) -> None:
    with pytest.raises(NotFoundError):
        factory().update(new_alert(id=999_999, version=1), expected_version=1)


def check_reopening_beside_an_open_alert_conflicts(factory: StoreFactory) -> None:
    store = factory()
    old = store.insert(new_alert())
    old = store.update(_closed(old), expected_version=1)
    store.insert(new_alert())
    with pytest.raises(ConflictError):
        store.update(dataclasses.replace(old, status=AlertStatus.NEW), expected_version=2)


def check_get_open_and_get_latest(factory: StoreFactory) -> None:
    store = factory()
    assert store.get_open(AlertKind.LATE, "stop:S1") is None
    assert store.get_latest(AlertKind.LATE, "stop:S1") is None
    first = store.insert(new_alert())
    assert store.get_open(AlertKind.LATE, "stop:S1") == first
    first = store.update(_closed(first), expected_version=1)
    assert store.get_open(AlertKind.LATE, "stop:S1") is None
    assert store.get_latest(AlertKind.LATE, "stop:S1") == first
    second = store.update(_closed(store.insert(new_alert())), expected_version=1)
    assert store.get_latest(AlertKind.LATE, "stop:S1") == second
    assert store.get_latest(AlertKind.AT_RISK, "stop:S1") is None


def _seed(store: AlertStore) -> dict[str, Alert]:
    a = store.insert(new_alert(subject="stop:A", stop_id="A", vehicle_id="V1"))
    b = store.insert(
        new_alert(
            kind=AlertKind.VEHICLE_OFFLINE,
            subject="vehicle:V2",
            vehicle_id="V2",
            stop_id=None,
            assignee="alice",
            status=AlertStatus.ASSIGNED,
        )
    )
    c = store.insert(
        new_alert(
            subject="stop:C",
            stop_id="C",
            vehicle_id="V2",
            status=AlertStatus.SNOOZED,
            snoozed_until=T0 + timedelta(minutes=10),
        )
    )
    d = store.insert(
        dataclasses.replace(
            _closed(new_alert(subject="stop:D", stop_id="D"), at=T0 + timedelta(hours=1)),
            cause_active=True,  # closed by a person while the cause was still there
        )
    )
    return {"a": a, "b": b, "c": c, "d": d}


def check_list_filters(factory: StoreFactory) -> None:
    store = factory()
    s = _seed(store)

    def ids(flt: AlertFilter | None = None) -> list[int | None]:
        return [x.id for x in store.list_alerts(flt)]

    assert ids() == [s[k].id for k in "abcd"]
    assert ids(AlertFilter(statuses=OPEN)) == [s["a"].id, s["b"].id]
    assert ids(AlertFilter(statuses=frozenset({AlertStatus.RESOLVED}))) == [s["d"].id]
    assert ids(AlertFilter(kinds=frozenset({AlertKind.VEHICLE_OFFLINE}))) == [s["b"].id]
    assert ids(AlertFilter(vehicle_id="V2")) == [s["b"].id, s["c"].id]
    assert ids(AlertFilter(stop_id="C")) == [s["c"].id]
    assert ids(AlertFilter(assignee="alice")) == [s["b"].id]
    assert ids(AlertFilter(cause_active=True, statuses=frozenset({AlertStatus.RESOLVED}))) == [
        s["d"].id
    ]
    assert ids(AlertFilter(cause_active=False)) == []
    assert ids(AlertFilter(snoozed_until_before=T0 + timedelta(minutes=9))) == []
    assert ids(AlertFilter(snoozed_until_before=T0 + timedelta(minutes=10))) == [s["c"].id]
    assert ids(AlertFilter(resolved_since=T0 + timedelta(hours=1))) == [s["d"].id]
    assert ids(AlertFilter(resolved_since=T0 + timedelta(hours=2))) == []
    assert ids(AlertFilter(limit=2)) == [s["a"].id, s["b"].id]
    assert ids(AlertFilter(vehicle_id="V2", statuses=OPEN)) == [s["b"].id]


def check_audit_is_append_only_and_ordered(factory: StoreFactory) -> None:
    store = factory()
    a = store.insert(new_alert())
    b = store.insert(new_alert(subject="stop:S2"))
    assert a.id is not None and b.id is not None
    entries = [
        AuditEntry(a.id, T0, "system", "raise", None, {"status": "new", "count": 1}),
        AuditEntry(b.id, T0, "system", "raise", None, {"status": "new"}),
        AuditEntry(
            a.id,
            T0 + timedelta(seconds=5),
            "alice",
            "acknowledge",
            {"status": "new", "assignee": None},
            {"status": "acknowledged", "note": "ok"},
        ),
    ]
    stored = [store.append_audit(e) for e in entries]
    assert all(s.id is not None for s in stored)
    assert [s.id for s in stored] == sorted(s.id or 0 for s in stored)
    assert len({s.id for s in stored}) == 3
    assert stored[0] == dataclasses.replace(entries[0], id=stored[0].id)
    assert store.list_audit(a.id) == [stored[0], stored[2]]
    assert store.list_audit(b.id) == [stored[1]]
    assert store.list_audit() == stored
    assert store.list_audit(999_999) == []


CONTRACT_CHECKS: list[Callable[[StoreFactory], None]] = [
    check_insert_assigns_id_and_version_one,
    check_every_field_round_trips,
    check_get_unknown_id_raises_not_found,
    check_second_open_alert_for_a_key_is_refused,
    check_closed_alerts_do_not_block_a_new_one,
    check_update_with_current_version_bumps_it,
    check_update_with_stale_version_conflicts_and_writes_nothing,
    check_update_of_unknown_id_raises_not_found,
    check_reopening_beside_an_open_alert_conflicts,
    check_get_open_and_get_latest,
    check_list_filters,
    check_audit_is_append_only_and_ordered,
]
