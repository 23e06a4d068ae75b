"""The exception queue's commands: what a dispatcher or supervisor does to an alert.

Every command takes the version the person saw (optimistic locking; :meth:`AlertService._load`
has the one tolerance), checks the transition table, then the permissions, writes the alert
with that version and appends an audit entry with before/after. Order of refusals: stale
version first (the person is looking at the past and must reload before anything else makes
sense), then an impossible step, then a forbidden one, then bad arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from dispatcher import display
from dispatcher.alerts.permissions import can_see, check_permission
from dispatcher.alerts.priority import priority_key
from dispatcher.alerts.reconcile import Checkpoint, Reconciler, ReconcileResult
from dispatcher.alerts.store import AlertStore
from dispatcher.alerts.thresholds import ReconcileSettings
from dispatcher.alerts.transitions import Action, target_status
from dispatcher.clock import Clock
from dispatcher.errors import ConflictError, ValidationError
from dispatcher.model.alerts import (
    SYSTEM_ACTOR,
    Alert,
    AlertFilter,
    AlertKind,
    AlertStatus,
    AuditEntry,
    Condition,
    ResolutionCode,
    User,
    audit_view,
)

MAX_SNOOZE = timedelta(hours=24)
"""A snooze longer than a day is a dismissal in disguise: ask a supervisor instead."""


class AlertService:
    """Commands and queries over an :class:`AlertStore`, with the clock of the house."""

    def __init__(
        self,
        store: AlertStore,
        clock: Clock,
        settings: ReconcileSettings | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._reconciler = Reconciler(store, settings)

    # -- queries -----------------------------------------------------------------------

    def list_alerts(self, user: User, flt: AlertFilter | None = None) -> list[Alert]:
        """What ``user`` may see of the alerts matching ``flt``, most urgent first."""
        now = self._clock.now()
        seen = [a for a in self._store.list_alerts(flt) if can_see(user, a)]
        return sorted(seen, key=lambda a: priority_key(a, now))

    def history(self, alert_id: int) -> list[AuditEntry]:
        """The audit trail of one alert, oldest first."""
        self._store.get(alert_id)  # NotFoundError for an unknown id
        return self._store.list_audit(alert_id)

    # -- system ------------------------------------------------------------------------

    def reconcile(
        self,
        conditions: Iterable[Condition],
        kinds: Collection[AlertKind],
        checkpoint: Checkpoint | None = None,
    ) -> ReconcileResult:
        """Apply one tick of the rule engine's conditions (see :mod:`.reconcile`, also for
        ``checkpoint``: where the caller may commit a chunk)."""
        return self._reconciler.run(conditions, kinds, self._clock.now(), checkpoint)

    def wake_due(self) -> list[Alert]:
        """Bring back every snoozed alert whose time has come, in the status it left."""
        now = self._clock.now()
        due = AlertFilter(statuses=frozenset({AlertStatus.SNOOZED}), snoozed_until_before=now)
        woken: list[Alert] = []
        for alert in self._store.list_alerts(due):
            try:
                woken.append(self._apply(alert, None, Action.WAKE, _unsnoozed(), {}))
            except ConflictError:
                continue  # someone acted on it meanwhile; the next tick looks again
        return woken

    # -- commands ----------------------------------------------------------------------

    def acknowledge(self, alert_id: int, user: User, expected_version: int) -> Alert:
        """ "I have seen it": stops the time-to-acknowledge clock."""
        alert = self._load(alert_id, expected_version)
        return self._command(alert, user, Action.ACKNOWLEDGE, {})

    def assign(
        self, alert_id: int, user: User, assignee: User, expected_version: int, note: str = ""
    ) -> Alert:
        """Give the alert to ``assignee`` (a dispatcher takes it: ``assignee == user``)."""
        alert = self._load(alert_id, expected_version)
        changes: dict[str, Any] = {"assignee": assignee.id, "assigned_at": self._clock.now()}
        return self._command(alert, user, Action.ASSIGN, changes, note=note, assignee=assignee)

    def escalate(self, alert_id: int, user: User, expected_version: int, note: str = "") -> Alert:
        """Hand the alert to the supervisors."""
        alert = self._load(alert_id, expected_version)
        changes: dict[str, Any] = {"escalated_at": self._clock.now(), "escalated_by": user.id}
        return self._command(alert, user, Action.ESCALATE, changes, note=note)

    def resolve(
        self,
        alert_id: int,
        user: User,
        expected_version: int,
        code: ResolutionCode | str,
        note: str = "",
    ) -> Alert:
        """Close the alert as handled, saying how (``code``) and anything worth keeping."""
        alert = self._load(alert_id, expected_version)
        target_status(alert, Action.RESOLVE)
        check_permission(user, Action.RESOLVE, alert)
        code = _resolution_code(code)
        if code.system_only:
            raise ValidationError(f"resolution code {code.value} is reserved for the system")
        if code is ResolutionCode.OTHER and not note.strip():
            raise ValidationError("resolution 'other' needs a note saying what was done")
        closing = self._closing(user, code, note)
        return self._command(alert, user, Action.RESOLVE, closing, note=note)

    def dismiss(self, alert_id: int, user: User, expected_version: int, note: str = "") -> Alert:
        """Close the alert as not worth handling (supervisors only)."""
        alert = self._load(alert_id, expected_version)
        closing = self._closing(user, None, note)
        return self._command(alert, user, Action.DISMISS, closing, note=note)

    def snooze(
        self, alert_id: int, user: User, expected_version: int, until: datetime, note: str = ""
    ) -> Alert:
        """Hide the alert until ``until``; it comes back by itself (see :meth:`wake_due`)."""
        alert = self._load(alert_id, expected_version)
        target_status(alert, Action.SNOOZE)
        check_permission(user, Action.SNOOZE, alert)
        now = self._clock.now()
        if until.utcoffset() is None or until <= now:
            raise ValidationError("snooze until a time in the future (timezone-aware)")
        if until - now > MAX_SNOOZE:
            raise ValidationError("snooze for 24 hours at most; ask a supervisor to dismiss it")
        changes: dict[str, Any] = {"snoozed_until": until, "status_before_snooze": alert.status}
        return self._command(alert, user, Action.SNOOZE, changes, note=note)

    def unsnooze(self, alert_id: int, user: User, expected_version: int) -> Alert:
        """Bring a snoozed alert back before its time."""
        alert = self._load(alert_id, expected_version)
        return self._command(alert, user, Action.WAKE, _unsnoozed())

    # -- machinery ---------------------------------------------------------------------

    def _load(self, alert_id: int, expected_version: int) -> Alert:
        """The current alert, if what the person saw (``expected_version``) is still true.

        The rules refresh an open alert (last seen, details) about once a minute and each
        write bumps the version; those refreshes are not audited because nobody decided
        anything. A version that is behind only by such refreshes is therefore accepted:
        the conflict is raised when an *audited* change (a person's action, a severity
        change, a repeat, an auto-resolve) happened after the version the person saw.
        """
        alert = self._store.get(alert_id)
        if alert.version == expected_version:
            return alert
        if expected_version > alert.version or self._changed_since(alert_id, expected_version):
            raise ConflictError(_conflict_message(alert, expected_version))
        return alert

    def _changed_since(self, alert_id: int, version: int) -> bool:
        return any(
            int(e.after.get("version", 0)) > version for e in self._store.list_audit(alert_id)
        )

    @staticmethod
    def _closing(user: User, code: ResolutionCode | None, note: str) -> dict[str, Any]:
        return {
            "resolved_by": user.id,
            "resolution_code": code,
            "resolution_note": note.strip(),
            "auto_resolved": False,
            "snoozed_until": None,
            "status_before_snooze": None,
        }

    def _command(
        self,
        alert: Alert,
        user: User,
        action: Action,
        changes: dict[str, Any],
        *,
        note: str = "",
        assignee: User | None = None,
    ) -> Alert:
        target_status(alert, action)
        check_permission(user, action, alert, assignee)
        now = self._clock.now()
        if alert.acknowledged_at is None:  # the first human touch is the acknowledgement
            changes = {"acknowledged_at": now, "acknowledged_by": user.id, **changes}
        if action in (Action.RESOLVE, Action.DISMISS):
            changes = {**changes, "resolved_at": now}
        return self._apply(alert, user, action, changes, {"note": note.strip()} if note else {})

    def _apply(
        self,
        alert: Alert,
        user: User | None,
        action: Action,
        changes: dict[str, Any],
        extra: dict[str, Any],
    ) -> Alert:
        now = self._clock.now()
        actor = user.id if user is not None else SYSTEM_ACTOR
        new = dataclasses.replace(
            alert,
            **changes,
            status=target_status(alert, action),
            updated_at=now,
            updated_by=actor,
        )
        try:
            written = self._store.update(new, alert.version)
        except ConflictError:
            raise ConflictError(
                _conflict_message(self._store.get(_id(alert)), alert.version)
            ) from None
        self._store.append_audit(
            AuditEntry(
                alert_id=_id(written),
                ts=now,
                actor=actor,
                action=action.value,
                before=audit_view(alert),
                after={**audit_view(written), **extra},
            )
        )
        return written


def _resolution_code(code: ResolutionCode | str) -> ResolutionCode:
    """The code as the enum: a UI may hand its value back as a plain string (a StrEnum is a
    str, and PySide6 6.12 returns item data that way), and an unknown one is bad input."""
    try:
        return ResolutionCode(code)
    except ValueError:
        raise ValidationError(f"unknown resolution code {code!r}") from None


def _unsnoozed() -> dict[str, Any]:
    return {"snoozed_until": None, "status_before_snooze": None}


def _id(alert: Alert) -> int:
    if alert.id is None:
        raise ValidationError("this exception was never stored")
    return alert.id


def _conflict_message(current: Alert, seen_version: int) -> str:
    who = current.updated_by or "someone"
    at = current.updated_at
    when = f" at {display.current().instant(at, seconds=True)}" if at else ""
    return (
        f"Exception #{current.id} ({current.title}) was changed by {who}{when} since you "
        f"opened it (you saw version {seen_version}, it is now {current.version}). "
        "Reload it and try again."
    )
