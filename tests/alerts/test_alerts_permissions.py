"""Permissions: what a viewer, a dispatcher and a supervisor may do (docs/exceptions.md table).

Refusals leave the alert and its log untouched.
"""

from __future__ import annotations

from typing import Any

import pytest
from alerts_builders import ALICE, BOB, SUE, T0, VIC, cond, minutes

from dispatcher.alerts.permissions import can_see
from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.errors import PermissionDenied, ValidationError
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, ResolutionCode

ALL = frozenset(AlertKind)


@pytest.fixture
def alert(service: AlertService) -> Alert:
    return service.reconcile([cond()], ALL).raised[0]


@pytest.fixture
def bobs(service: AlertService, alert: Alert) -> Alert:
    """The alert, assigned to Bob."""
    return service.assign(alert.id or 0, BOB, BOB, alert.version)


def expect_refused(service: AlertService, store: InMemoryAlertStore, step: Any, match: str) -> None:
    before_alerts, before_log = store.list_alerts(), store.list_audit()
    with pytest.raises(PermissionDenied, match=match):
        step()
    assert store.list_alerts() == before_alerts
    assert store.list_audit() == before_log


VIEWER_STEPS = {
    "acknowledge": lambda s, a: s.acknowledge(a.id, VIC, a.version),
    "assign": lambda s, a: s.assign(a.id, VIC, ALICE, a.version),
    "escalate": lambda s, a: s.escalate(a.id, VIC, a.version),
    "resolve": lambda s, a: s.resolve(a.id, VIC, a.version, ResolutionCode.DELIVERED),
    "dismiss": lambda s, a: s.dismiss(a.id, VIC, a.version),
    "snooze": lambda s, a: s.snooze(a.id, VIC, a.version, T0 + minutes(5)),
}


@pytest.mark.parametrize("step", VIEWER_STEPS.values(), ids=VIEWER_STEPS.keys())
def test_a_viewer_changes_nothing(
    service: AlertService, store: InMemoryAlertStore, alert: Alert, step: Any
) -> None:
    expect_refused(service, store, lambda: step(service, alert), "viewer")
    assert can_see(VIC, alert)


def test_a_dispatcher_cannot_dismiss(
    service: AlertService, store: InMemoryAlertStore, alert: Alert
) -> None:
    expect_refused(
        service,
        store,
        lambda: service.dismiss(alert.id or 0, ALICE, alert.version),
        "only a supervisor can dismiss",
    )


def test_a_dispatcher_cannot_assign_to_someone_else(
    service: AlertService, store: InMemoryAlertStore, alert: Alert
) -> None:
    expect_refused(
        service,
        store,
        lambda: service.assign(alert.id or 0, ALICE, BOB, alert.version),
        "to themselves",
    )


OTHERS_STEPS = {
    "take-over": lambda s, a: s.assign(a.id, ALICE, ALICE, a.version),
    "resolve": lambda s, a: s.resolve(a.id, ALICE, a.version, ResolutionCode.DELIVERED),
    "escalate": lambda s, a: s.escalate(a.id, ALICE, a.version),
    "snooze": lambda s, a: s.snooze(a.id, ALICE, a.version, T0 + minutes(5)),
}


@pytest.mark.parametrize("step", OTHERS_STEPS.values(), ids=OTHERS_STEPS.keys())
def test_a_dispatcher_cannot_touch_a_colleagues_alert(
    service: AlertService, store: InMemoryAlertStore, bobs: Alert, step: Any
) -> None:
    expect_refused(service, store, lambda: step(service, bobs), "assigned to bob")


def test_a_dispatcher_may_still_acknowledge_a_colleagues_alert_that_is_new(
    service: AlertService, alert: Alert
) -> None:
    assert service.acknowledge(alert.id or 0, ALICE, alert.version).acknowledged_by == "alice"


def test_a_supervisor_reassigns_and_dismisses(service: AlertService, bobs: Alert) -> None:
    moved = service.assign(bobs.id or 0, SUE, ALICE, bobs.version)
    assert moved.assignee == "alice"
    assert service.dismiss(moved.id or 0, SUE, moved.version).status is AlertStatus.DISMISSED


def test_nobody_assigns_to_a_viewer(service: AlertService, alert: Alert) -> None:
    with pytest.raises(ValidationError, match="viewer"):
        service.assign(alert.id or 0, SUE, VIC, alert.version)


def test_a_dispatcher_resolves_an_unassigned_alert(service: AlertService, alert: Alert) -> None:
    done = service.resolve(alert.id or 0, ALICE, alert.version, ResolutionCode.DRIVER_CONTACTED)
    assert done.resolved_by == "alice"


def test_escalations_are_hidden_from_other_dispatchers(service: AlertService, alert: Alert) -> None:
    up = service.escalate(alert.id or 0, ALICE, alert.version)
    assert can_see(ALICE, up) and can_see(SUE, up)
    assert not can_see(BOB, up) and not can_see(VIC, up)
