"""The workflow: new -> acknowledged -> assigned -> escalated -> resolved | dismissed, snooze.

Every step records who and when, in an append-only audit log with before/after; permissions
are enforced in the core; a stale version is a conflict with a message a person can act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from alerts_builders import ALICE, BOB, SUE, T0, VIC, cond, minutes

from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.errors import (
    ConflictError,
    InvalidTransition,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from dispatcher.model.alerts import (
    Alert,
    AlertFilter,
    AlertKind,
    AlertStatus,
    ResolutionCode,
    Severity,
)

ALL = frozenset(AlertKind)


@pytest.fixture
def alert(service: AlertService) -> Alert:
    return service.reconcile([cond()], ALL).raised[0]


def aid(a: Alert) -> int:
    assert a.id is not None
    return a.id


def test_acknowledge_records_who_and_when_in_the_alert_and_the_log(
    service: AlertService, store: InMemoryAlertStore, clock: FakeClock, alert: Alert
) -> None:
    clock.advance(seconds=90)
    acked = service.acknowledge(aid(alert), ALICE, alert.version)
    assert acked.status is AlertStatus.ACKNOWLEDGED
    assert (acked.acknowledged_by, acked.acknowledged_at) == ("alice", T0 + minutes(1.5))
    entry = service.history(aid(alert))[-1]
    assert (entry.actor, entry.action, entry.ts) == ("alice", "acknowledge", T0 + minutes(1.5))
    assert entry.before is not None and entry.before["status"] == "new"
    assert entry.after["status"] == "acknowledged"
    assert entry.after["version"] == acked.version


def test_a_dispatcher_takes_an_alert_and_resolves_it(
    service: AlertService, clock: FakeClock, alert: Alert
) -> None:
    taken = service.assign(aid(alert), ALICE, ALICE, alert.version)
    assert (taken.status, taken.assignee) == (AlertStatus.ASSIGNED, "alice")
    assert taken.acknowledged_by == "alice"  # taking it is acknowledging it
    clock.advance(minutes=4)
    done = service.resolve(
        aid(alert), ALICE, taken.version, ResolutionCode.DRIVER_CONTACTED, " ok "
    )
    assert done.status is AlertStatus.RESOLVED
    assert (done.resolved_by, done.resolved_at) == ("alice", T0 + minutes(4))
    assert (done.resolution_code, done.resolution_note, done.auto_resolved) == (
        ResolutionCode.DRIVER_CONTACTED,
        "ok",
        False,
    )
    assert [e.action for e in service.history(aid(alert))] == ["raise", "assign", "resolve"]
    assert service.history(aid(alert))[-1].after["note"] == "ok"


def test_escalated_alerts_belong_to_supervisors(service: AlertService, alert: Alert) -> None:
    mine = service.assign(aid(alert), ALICE, ALICE, alert.version)
    up = service.escalate(aid(alert), ALICE, mine.version, "customer threatens to cancel")
    assert (up.status, up.escalated_by) == (AlertStatus.ESCALATED, "alice")
    with pytest.raises(PermissionDenied, match="supervisor"):
        service.resolve(aid(alert), ALICE, up.version, ResolutionCode.RESCHEDULED)
    assert [a.id for a in service.list_alerts(ALICE)] == [alert.id]  # she escalated it
    assert service.list_alerts(BOB) == []
    assert [a.id for a in service.list_alerts(SUE)] == [alert.id]
    back = service.assign(aid(alert), SUE, BOB, up.version, "Bob knows that customer")
    assert (back.status, back.assignee) == (AlertStatus.ASSIGNED, "bob")


def test_snoozed_alert_comes_back_in_the_status_it_left(
    service: AlertService, clock: FakeClock, alert: Alert
) -> None:
    mine = service.assign(aid(alert), ALICE, ALICE, alert.version)
    asleep = service.snooze(aid(alert), ALICE, mine.version, T0 + minutes(15), "driver at lunch")
    assert (asleep.status, asleep.snoozed_until) == (AlertStatus.SNOOZED, T0 + minutes(15))
    clock.advance(minutes=14, seconds=59)
    assert service.wake_due() == []
    clock.advance(seconds=1)  # exactly the snooze time
    (awake,) = service.wake_due()
    assert (awake.status, awake.assignee, awake.snoozed_until) == (
        AlertStatus.ASSIGNED,
        "alice",
        None,
    )
    assert service.history(aid(alert))[-1].actor == "system"


def test_unsnooze_brings_it_back_early(service: AlertService, alert: Alert) -> None:
    asleep = service.snooze(aid(alert), ALICE, alert.version, T0 + minutes(60))
    assert service.unsnooze(aid(alert), ALICE, asleep.version).status is AlertStatus.NEW


@pytest.mark.parametrize(
    "until", [T0, T0 - minutes(1), T0 + minutes(24 * 60 + 1)], ids=["now", "past", "over-a-day"]
)
def test_snooze_until_must_be_in_the_next_day(
    service: AlertService, alert: Alert, until: datetime
) -> None:
    with pytest.raises(ValidationError):
        service.snooze(aid(alert), ALICE, alert.version, until)


def test_resolution_codes_are_checked(service: AlertService, alert: Alert) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        service.resolve(aid(alert), SUE, alert.version, ResolutionCode.CAUSE_CLEARED)
    with pytest.raises(ValidationError, match="note"):
        service.resolve(aid(alert), SUE, alert.version, ResolutionCode.OTHER, "  ")
    done = service.resolve(aid(alert), SUE, alert.version, ResolutionCode.OTHER, "moved to Monday")
    assert done.resolution_note == "moved to Monday"


def test_a_code_given_as_its_text_is_the_code_and_an_unknown_one_is_bad_input(
    service: AlertService, alert: Alert
) -> None:
    """A UI may hand the code back as a plain string (PySide6 6.12's combo box does)."""
    with pytest.raises(ValidationError, match="unknown resolution code 'teleported'"):
        service.resolve(aid(alert), SUE, alert.version, "teleported")
    done = service.resolve(aid(alert), SUE, alert.version, "customer_contacted")
    assert done.resolution_code is ResolutionCode.CUSTOMER_CONTACTED


def bring_to(service: AlertService, alert: Alert, status: AlertStatus) -> Alert:
    """The alert moved to ``status`` by the shortest legal path (supervisor Sue)."""
    a = alert
    if status is AlertStatus.ACKNOWLEDGED:
        a = service.acknowledge(aid(a), SUE, a.version)
    elif status is AlertStatus.ESCALATED:
        a = service.escalate(aid(a), SUE, a.version)
    elif status is AlertStatus.RESOLVED:
        a = service.resolve(aid(a), SUE, a.version, ResolutionCode.DELIVERED)
    elif status is AlertStatus.DISMISSED:
        a = service.dismiss(aid(a), SUE, a.version, "duplicate")
    assert a.status is status
    return a


IMPOSSIBLE = [
    (AlertStatus.ACKNOWLEDGED, lambda s, a: s.acknowledge(aid(a), SUE, a.version)),
    (
        AlertStatus.RESOLVED,
        lambda s, a: s.resolve(aid(a), SUE, a.version, ResolutionCode.DELIVERED),
    ),
    (AlertStatus.RESOLVED, lambda s, a: s.assign(aid(a), SUE, SUE, a.version)),
    (AlertStatus.DISMISSED, lambda s, a: s.snooze(aid(a), SUE, a.version, T0 + minutes(5))),
    (AlertStatus.DISMISSED, lambda s, a: s.dismiss(aid(a), SUE, a.version)),
    (AlertStatus.ESCALATED, lambda s, a: s.escalate(aid(a), SUE, a.version)),
    (AlertStatus.ESCALATED, lambda s, a: s.snooze(aid(a), SUE, a.version, T0 + minutes(5))),
    (AlertStatus.NEW, lambda s, a: s.unsnooze(aid(a), SUE, a.version)),
]


@pytest.mark.parametrize(
    ("status", "step"),
    IMPOSSIBLE,
    ids=[
        "ack-twice",
        "resolve-twice",
        "assign-resolved",
        "snooze-dismissed",
        "dismiss-twice",
        "escalate-twice",
        "snooze-escalated",
        "wake-awake",
    ],
)
def test_impossible_steps_are_invalid_transitions(
    service: AlertService, alert: Alert, status: AlertStatus, step: Any
) -> None:
    there = bring_to(service, alert, status)
    with pytest.raises(InvalidTransition, match=status.value):
        step(service, there)
    assert service.history(aid(alert))[-1].after["status"] == status.value


def test_stale_version_is_a_conflict_with_a_clear_message(
    service: AlertService, clock: FakeClock, alert: Alert
) -> None:
    clock.advance(seconds=42)
    service.assign(aid(alert), BOB, BOB, alert.version)  # Bob was faster
    with pytest.raises(ConflictError) as err:
        service.acknowledge(aid(alert), ALICE, alert.version)
    message = str(err.value)
    assert f"#{alert.id}" in message and "bob" in message and "09:00:42" in message
    assert "Reload" in message


def test_a_rules_refresh_in_between_is_not_a_conflict(
    service: AlertService, clock: FakeClock, alert: Alert
) -> None:
    clock.advance(minutes=1)
    (refreshed,) = service.reconcile([cond()], ALL).updated  # last seen moved, nobody acted
    assert refreshed.version == alert.version + 1
    acked = service.acknowledge(aid(alert), ALICE, alert.version)
    assert acked.version == refreshed.version + 1
    with pytest.raises(ConflictError):  # but Alice's acknowledgement is a real change
        service.escalate(aid(alert), BOB, refreshed.version)
    with pytest.raises(ConflictError):  # and a version from the future is nonsense
        service.escalate(aid(alert), BOB, acked.version + 1)


def test_conflict_wins_over_every_other_refusal(service: AlertService, alert: Alert) -> None:
    service.acknowledge(aid(alert), ALICE, alert.version)
    with pytest.raises(ConflictError):
        service.dismiss(aid(alert), VIC, alert.version)  # viewer, stale: reload first


def test_unknown_alert_is_not_found(service: AlertService) -> None:
    with pytest.raises(NotFoundError):
        service.acknowledge(404, ALICE, 1)
    with pytest.raises(NotFoundError):
        service.history(404)


def test_the_queue_is_listed_most_urgent_first(service: AlertService, clock: FakeClock) -> None:
    service.reconcile(
        [
            cond(AlertKind.VEHICLE_IDLE, severity=Severity.MEDIUM),
            cond(AlertKind.LATE, "stop:S1", Severity.HIGH, sla_deadline=T0 + minutes(5)),
            cond(AlertKind.AT_RISK, "stop:S2", Severity.MEDIUM, sla_deadline=T0 + minutes(8)),
        ],
        ALL,
    )
    kinds = [a.kind for a in service.list_alerts(SUE, AlertFilter(statuses=None))]
    assert kinds == [AlertKind.LATE, AlertKind.AT_RISK, AlertKind.VEHICLE_IDLE]
