"""The workflow as a state machine: no sequence of actions reaches an invalid state or loses
an audit entry.

Hypothesis drives causes coming and going, events arriving, time passing (snoozes waking,
re-open windows closing) and people of every role acting with current or stale versions.
After every step the invariants below must hold; a refused action must change nothing.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from alerts_builders import ALICE, BOB, SUE, T0, VIC, cond
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.transitions import TRANSITIONS, Action
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.errors import DispatcherError
from dispatcher.model.alerts import (
    SYSTEM_ACTOR,
    Alert,
    AlertKind,
    AlertStatus,
    AuditEntry,
    Condition,
    ResolutionCode,
    Role,
    User,
    audit_view,
)

ALL = frozenset(AlertKind)
USERS = [ALICE, BOB, SUE, VIC]
STATE_CAUSES = {
    "offline": cond(AlertKind.VEHICLE_OFFLINE, "vehicle:V1"),
    "late": cond(AlertKind.LATE, "stop:S1"),
}
ACTIONS = ["acknowledge", "assign", "escalate", "resolve", "dismiss", "snooze", "unsnooze"]


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.store = InMemoryAlertStore()
        self.service = AlertService(self.store, self.clock)
        self.present: set[str] = set()
        self.events: list[Condition] = []
        self.event_seq = 0
        self.log_seen: list[AuditEntry] = []

    # -- the world ---------------------------------------------------------------------

    @rule(cause=st.sampled_from(sorted(STATE_CAUSES)), on=st.booleans())
    def cause(self, cause: str, on: bool) -> None:
        (self.present.add if on else self.present.discard)(cause)

    @rule()
    def driver_reports_a_failure(self) -> None:
        self.event_seq += 1
        self.events.append(
            cond(AlertKind.FAILED_DELIVERY, "stop:S2", occurrence=f"E{self.event_seq}")
        )

    @rule(minutes=st.sampled_from([0, 1, 5, 20, 31, 60]))
    def tick(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        self.service.wake_due()
        conditions = [STATE_CAUSES[c] for c in sorted(self.present)] + self.events
        self.events = []
        self.service.reconcile(conditions, ALL)

    # -- people ------------------------------------------------------------------------

    @precondition(lambda self: bool(self.store.list_alerts()))
    @rule(
        pick=st.integers(0, 20),
        open_only=st.sampled_from([True, True, True, False]),
        user=st.sampled_from([*USERS, SUE, ALICE]),
        assignee=st.sampled_from(USERS),
        action=st.sampled_from(ACTIONS),
        stale=st.sampled_from([False, False, False, True]),
        snooze_min=st.sampled_from([-5, 0, 10, 10, 45, 2000]),
    )
    def act(
        self,
        pick: int,
        open_only: bool,
        user: User,
        assignee: User,
        action: str,
        stale: bool,
        snooze_min: int,
    ) -> None:
        alerts = self.store.list_alerts()
        if open_only and any(a.is_open for a in alerts):
            alerts = [a for a in alerts if a.is_open]
        alert = alerts[pick % len(alerts)]
        version = alert.version - 1 if stale else alert.version
        # behind only by unaudited refreshes is accepted; behind an audited change is not
        stale = stale and any(e.after["version"] > version for e in self.store.list_audit(alert.id))
        before_alerts, before_log = self.store.list_alerts(), self.store.list_audit()
        args: dict[str, Any] = {
            "assign": (assignee,),
            "resolve": (ResolutionCode.DRIVER_CONTACTED,),
            "snooze": (self.clock.now() + timedelta(minutes=snooze_min),),
        }
        call = getattr(self.service, action)
        try:
            if action == "assign":
                written = call(alert.id, user, assignee, version)
            else:
                written = call(alert.id, user, version, *args.get(action, ()))
        except DispatcherError:
            assert self.store.list_alerts() == before_alerts, "a refusal changed an alert"
            assert self.store.list_audit() == before_log, "a refusal wrote to the log"
            self._assert_refusal_was_due(alert, user, action, stale, snooze_min, assignee)
            return
        assert not stale, "a stale version was accepted"
        _assert_allowed(alert, user, action, assignee)
        log = self.store.list_audit()
        assert len(log) == len(before_log) + 1, "an action without exactly one audit entry"
        entry = log[-1]
        assert (entry.alert_id, entry.actor) == (alert.id, user.id)
        assert entry.before == audit_view(alert)
        assert {k: v for k, v in entry.after.items() if k != "note"} == audit_view(written)
        assert written.version == alert.version + 1

    def _assert_refusal_was_due(
        self, alert: Alert, user: User, action: str, stale: bool, snooze_min: int, assignee: User
    ) -> None:
        """A supervisor with a current version and a possible step is never refused."""
        if stale or user.role is not Role.SUPERVISOR:
            return
        step = Action.WAKE if action == "unsnooze" else Action(action)
        if alert.status not in TRANSITIONS[step][0]:
            return
        if action == "snooze" and not 0 < snooze_min <= 24 * 60:
            return
        if action == "assign" and assignee.role is Role.VIEWER:
            return
        raise AssertionError(f"supervisor refused {action} on {alert.status}")

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def audit_log_only_grows(self) -> None:
        log = self.store.list_audit()
        assert log[: len(self.log_seen)] == self.log_seen, "an audit entry changed or vanished"
        self.log_seen = log

    @invariant()
    def one_open_alert_per_key(self) -> None:
        keys = [a.key for a in self.store.list_alerts() if a.is_open]
        assert len(keys) == len(set(keys))

    @invariant()
    def every_alert_is_consistent(self) -> None:
        for a in self.store.list_alerts():
            _check_alert(a)
            self._check_history(a)

    def _check_history(self, a: Alert) -> None:
        entries = self.store.list_audit(a.id)
        assert entries and entries[0].action == "raise" and entries[0].before is None
        for prev, nxt in itertools.pairwise(entries):
            assert nxt.before is not None
            assert nxt.before["status"] == prev.after["status"], "a status change was not logged"
        assert entries[-1].after["status"] == a.status.value
        assert entries[-1].after["version"] <= a.version


def _assert_allowed(alert: Alert, user: User, action: str, assignee: User) -> None:
    """The permissions table, restated independently of the code under test."""
    assert user.role is not Role.VIEWER, "a viewer changed an alert"
    if user.role is Role.SUPERVISOR:
        return
    assert alert.status is not AlertStatus.ESCALATED, "a dispatcher acted on an escalation"
    assert action != "dismiss", "a dispatcher dismissed"
    if action != "acknowledge":
        assert alert.assignee in (None, user.id), f"a dispatcher did {action} on another's alert"
    if action == "assign":
        assert assignee == user, "a dispatcher assigned to someone else"


def _check_alert(a: Alert) -> None:
    assert a.count >= 1 and a.version >= 1
    assert (a.status is AlertStatus.SNOOZED) == (a.snoozed_until is not None)
    assert (a.status is AlertStatus.SNOOZED) == (a.status_before_snooze is not None)
    assert a.is_open == (a.resolved_at is None) == (a.resolved_by is None)
    if a.status is AlertStatus.ASSIGNED:
        assert a.assignee is not None
    if a.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED, AlertStatus.ESCALATED):
        assert a.acknowledged_by is not None and a.acknowledged_at is not None
    if a.status is AlertStatus.ESCALATED:
        assert a.escalated_by is not None
    if a.status is AlertStatus.RESOLVED:
        assert a.auto_resolved == (a.resolved_by == SYSTEM_ACTOR)
        assert a.resolution_code is not None
    if a.auto_resolved:
        assert not a.kind.latched
    if a.status is AlertStatus.DISMISSED:
        assert a.resolved_by != SYSTEM_ACTOR
    if not a.is_open and a.resolved_by != SYSTEM_ACTOR:
        assert a.acknowledged_by is not None, "closed by a person who never acknowledged it"


QueueMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_queue_workflow = QueueMachine.TestCase
