"""Dedupe, auto-resolve and re-open: one alert per (kind, subject), a history that tells why.

Defaults: re-open within 30 min of closing, refresh an unchanged alert at most once a minute.
"""

from __future__ import annotations

import dataclasses

from alerts_builders import ALICE, SUE, T0, cond, minutes

from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.model.alerts import (
    SYSTEM_ACTOR,
    Alert,
    AlertKind,
    AlertStatus,
    ResolutionCode,
    Severity,
)

ALL = frozenset(AlertKind)
OFFLINE = cond()
FAILED_E1 = cond(AlertKind.FAILED_DELIVERY, "stop:S1", occurrence="E1", stop_id="S1")
FAILED_E2 = cond(AlertKind.FAILED_DELIVERY, "stop:S1", occurrence="E2", stop_id="S1")


def actions(store: InMemoryAlertStore, alert_id: int | None = None) -> list[str]:
    return [e.action for e in store.list_audit(alert_id)]


def test_a_condition_raises_one_alert_and_repeats_do_not_duplicate_it(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    result = service.reconcile([OFFLINE], ALL)
    (alert,) = result.raised
    assert (alert.status, alert.count, alert.first_seen) == (AlertStatus.NEW, 1, T0)
    for _ in range(5):
        clock.advance(seconds=10)
        assert not service.reconcile([OFFLINE], ALL).changed  # no write within the minute
    assert len(store.list_alerts()) == 1
    assert actions(store) == ["raise"]


def test_a_persisting_cause_refreshes_last_seen_once_a_minute_without_audit(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    (alert,) = service.reconcile([OFFLINE], ALL).raised
    clock.advance(seconds=60)
    (refreshed,) = service.reconcile([OFFLINE], ALL).updated
    assert refreshed.last_seen == T0 + minutes(1)
    assert refreshed.version == alert.version + 1
    assert refreshed.count == 1
    assert actions(store) == ["raise"]


def test_a_severity_change_is_written_at_once_and_audited(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    service.reconcile([cond(AlertKind.LATE, "stop:S1", Severity.HIGH)], ALL)
    clock.advance(seconds=5)
    (worse,) = service.reconcile([cond(AlertKind.LATE, "stop:S1", Severity.CRITICAL)], ALL).updated
    assert worse.severity is Severity.CRITICAL
    assert actions(store) == ["raise", "severity_change"]
    last = store.list_audit()[-1]
    assert last.before is not None and last.before["severity"] == 3
    assert last.after["severity"] == 4


def test_new_event_occurrences_count_as_repeats_the_same_one_does_not(
    service: AlertService, store: InMemoryAlertStore
) -> None:
    service.reconcile([FAILED_E1], ALL)
    service.reconcile([FAILED_E1], ALL)  # the same event fed again
    (alert,) = service.reconcile([FAILED_E2], ALL).updated
    assert alert.count == 2
    assert alert.last_occurrence == "E2"
    assert actions(store) == ["raise", "repeat"]


def test_cause_cleared_auto_resolves_and_keeps_history(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    (alert,) = service.reconcile([OFFLINE], ALL).raised
    clock.advance(minutes=3)
    (gone,) = service.reconcile([], ALL).auto_resolved
    assert gone.status is AlertStatus.RESOLVED
    assert gone.auto_resolved
    assert (gone.resolved_by, gone.resolved_at) == (SYSTEM_ACTOR, T0 + minutes(3))
    assert gone.resolution_code is ResolutionCode.CAUSE_CLEARED
    assert store.get(alert.id or 0) == gone  # kept, not deleted
    assert actions(store) == ["raise", "auto_resolve"]


def test_event_alerts_never_auto_resolve(service: AlertService) -> None:
    service.reconcile([FAILED_E1], ALL)
    assert not service.reconcile([], ALL).auto_resolved


def test_only_the_kinds_evaluated_are_auto_resolved(service: AlertService) -> None:
    service.reconcile([OFFLINE], ALL)
    assert not service.reconcile([], ALL - {AlertKind.VEHICLE_OFFLINE}).auto_resolved


def test_cause_returning_soon_reopens_the_same_alert(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    (alert,) = service.reconcile([OFFLINE], ALL).raised
    clock.advance(minutes=2)
    service.reconcile([], ALL)
    clock.advance(minutes=30)  # exactly the re-open window
    (back,) = service.reconcile([OFFLINE], ALL).reopened
    assert back.id == alert.id
    assert (back.status, back.count, back.auto_resolved) == (AlertStatus.NEW, 2, False)
    assert back.opened_at == T0 + minutes(32)
    assert back.first_seen == T0
    assert back.resolved_at is None and back.resolution_code is None
    assert actions(store) == ["raise", "auto_resolve", "reopen"]


def test_cause_returning_after_the_window_is_a_new_alert(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    (first,) = service.reconcile([OFFLINE], ALL).raised
    service.reconcile([], ALL)
    clock.advance(minutes=31)
    (second,) = service.reconcile([OFFLINE], ALL).raised
    assert second.id != first.id
    assert store.get(first.id or 0).status is AlertStatus.RESOLVED


def test_at_risk_becoming_late_is_superseded_not_cleared(
    service: AlertService, store: InMemoryAlertStore
) -> None:
    service.reconcile([cond(AlertKind.AT_RISK, "stop:S1", Severity.MEDIUM)], ALL)
    result = service.reconcile([cond(AlertKind.LATE, "stop:S1")], ALL)
    (old,) = result.auto_resolved
    assert old.resolution_code is ResolutionCode.SUPERSEDED
    assert [a.kind for a in result.raised] == [AlertKind.LATE]


def test_resolved_by_a_person_while_the_cause_persists_is_not_raised_again(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock
) -> None:
    (alert,) = service.reconcile([OFFLINE], ALL).raised
    service.resolve(
        alert.id or 0, SUE, alert.version, ResolutionCode.DRIVER_CONTACTED, "phone dead"
    )
    clock.advance(minutes=5)
    assert not service.reconcile([OFFLINE], ALL).changed  # still offline: handled, stay quiet
    clock.advance(minutes=5)
    service.reconcile([], ALL)  # back online: the cause cleared
    (back,) = service.reconcile([OFFLINE], ALL).reopened  # offline again: news
    assert back.id == alert.id and back.count == 2


def test_a_closed_event_alert_reopens_only_for_a_new_event(
    service: AlertService, store: InMemoryAlertStore
) -> None:
    (alert,) = service.reconcile([FAILED_E1], ALL).raised
    service.resolve(alert.id or 0, ALICE, alert.version, ResolutionCode.RESCHEDULED)
    assert not service.reconcile([FAILED_E1], ALL).changed
    (back,) = service.reconcile([FAILED_E2], ALL).reopened
    assert back.count == 2


def test_duplicate_conditions_in_one_tick_keep_the_worst(service: AlertService) -> None:
    result = service.reconcile(
        [
            cond(severity=Severity.MEDIUM),
            cond(severity=Severity.CRITICAL),
            cond(severity=Severity.LOW),
        ],
        ALL,
    )
    (alert,) = result.raised
    assert alert.severity is Severity.CRITICAL


def test_a_workstation_losing_the_race_records_a_conflict_not_a_crash(clock: FakeClock) -> None:
    class RacingStore(InMemoryAlertStore):
        """Another workstation raises the same alert between our read and our insert."""

        def get_latest(self, kind: AlertKind, subject: str) -> Alert | None:
            found = super().get_latest(kind, subject)
            if found is None:
                other = AlertService(InMemoryAlertStore(), clock).reconcile([OFFLINE], ALL)
                self.insert(dataclasses.replace(other.raised[0], id=None))
            return found

    store = RacingStore()
    result = AlertService(store, clock).reconcile([OFFLINE], ALL)
    assert result.conflicts == [(AlertKind.VEHICLE_OFFLINE, "vehicle:V1")]
    assert not result.raised
    assert len(store.list_alerts()) == 1
