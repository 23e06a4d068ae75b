"""Reconciliation: the conditions true now against the alerts in the store.

Per (kind, subject) key, once per tick:

* condition present, open alert exists -> a new occurrence (event kinds) counts as a repeat
  (count + 1); a severity change is written at once; otherwise the alert is refreshed (last
  seen, details, deadline) at most every ``refresh_interval_s``;
* condition present, no open alert -> raise a new alert, or re-open the latest one if it was
  closed less than ``reopen_window_min`` ago. Not if a person closed it while the cause was
  still there and the cause never went away: closing means "handled", and the queue must
  not throw it back every tick (event kinds: the same occurrence is never raised twice);
* condition absent, open alert of a state kind -> auto-resolve (``resolved_by = system``,
  ``auto_resolved``, code ``cause_cleared``, or ``superseded`` when at risk became late or
  stale became offline);
* condition absent, closed alert with ``cause_active`` -> remember the cause cleared.

Only the kinds the caller speaks for are auto-resolved, so a rule that crashed (or a partial
snapshot for some kinds) never resolves alerts it did not look at.

**Chunks.** The caller may pass a ``checkpoint``, called after each key's step with the result
so far, where it may commit what is written (:class:`~dispatcher.alerts.runner.AlertRunner`
does every few dozen alerts: at 500 vehicles one transaction of 942 alerts held SQLite's only
write lock for ~10 s). An alert and its audit line are always in the same chunk. Steps of state
kinds are idempotent (a re-run after a lost chunk finds the committed alerts open and only
refreshes them), so they go first, each followed by the checkpoint; the event kinds (latched:
a new occurrence counts a repeat, which a re-fed occurrence would count twice) come last,
with no checkpoint after them, so they are committed with the run's last chunk or not at all,
and the facts' events are fed again only in the second case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from dispatcher.alerts.store import AlertStore, by_key
from dispatcher.alerts.thresholds import ReconcileSettings
from dispatcher.alerts.transitions import Action, target_status
from dispatcher.errors import ConflictError
from dispatcher.model.alerts import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    SYSTEM_ACTOR,
    Alert,
    AlertFilter,
    AlertKey,
    AlertKind,
    AuditEntry,
    Condition,
    ResolutionCode,
    audit_view,
)

ETA_HISTORY_MAX = 20
"""How many changes of a stop's predicted arrival an alert keeps (``details["eta_history"]``)."""

SUPERSEDED_BY: dict[AlertKind, AlertKind] = {
    AlertKind.AT_RISK: AlertKind.LATE,
    AlertKind.VEHICLE_STALE: AlertKind.VEHICLE_OFFLINE,
}
"""When the first kind clears because the second one took over on the same subject."""


@dataclass
class ReconcileResult:
    """What one reconciliation changed (for events to the UI and for tests)."""

    raised: list[Alert] = field(default_factory=list)
    reopened: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    auto_resolved: list[Alert] = field(default_factory=list)
    conflicts: list[AlertKey] = field(default_factory=list)

    @property
    def changed(self) -> list[Alert]:
        return [*self.raised, *self.reopened, *self.updated, *self.auto_resolved]


def _merge(conditions: Iterable[Condition]) -> dict[AlertKey, list[Condition]]:
    """Group by key. State kinds keep their worst condition; event kinds keep all, in order."""
    grouped: dict[AlertKey, list[Condition]] = {}
    for cond in conditions:
        group = grouped.setdefault(cond.key, [])
        if cond.kind.latched or not group:
            group.append(cond)
        elif cond.severity > group[0].severity:
            group[0] = cond
    return grouped


Checkpoint = Callable[[ReconcileResult], None]
"""Called between the steps of a reconciliation with the result so far (see "Chunks")."""


class Reconciler:
    """Bring the store in line with the conditions of one tick."""

    def __init__(self, store: AlertStore, settings: ReconcileSettings | None = None) -> None:
        self._store = store
        self._settings = settings or ReconcileSettings()

    def run(
        self,
        conditions: Iterable[Condition],
        kinds: Collection[AlertKind],
        now: datetime,
        checkpoint: Checkpoint | None = None,
    ) -> ReconcileResult:
        """Reconcile ``conditions`` (all the rules found at ``now`` for ``kinds``);
        ``checkpoint`` is called between steps where a commit is safe (module docstring)."""
        result = ReconcileResult()
        mark = checkpoint or (lambda _result: None)
        kinds = frozenset(kinds)
        present = {k: v for k, v in _merge(conditions).items() if k[0] in kinds}
        open_now = by_key(self._store.list_alerts(AlertFilter(statuses=OPEN_STATUSES, kinds=kinds)))
        # Keys are independent of each other: state kinds first, event kinds last.
        for key, conds in present.items():
            if not key[0].latched:
                for cond in conds:
                    self._guarded(result, key, partial(self._present, cond, now, open_now, result))
                mark(result)
        state_kinds = frozenset(k for k in kinds if not k.latched)
        for alert in list(open_now.values()):
            if alert.kind in state_kinds and alert.key not in present:
                step = partial(self._auto_resolve, alert, present, now, result)
                self._guarded(result, alert.key, step)
                mark(result)
        cleared = AlertFilter(statuses=CLOSED_STATUSES, kinds=state_kinds, cause_active=True)
        for alert in self._store.list_alerts(cleared):
            if alert.key not in present:
                self._guarded(result, alert.key, partial(self._cause_cleared, alert))
                mark(result)
        for key, conds in present.items():  # no checkpoint after these (module docstring)
            if key[0].latched:
                for cond in conds:
                    self._guarded(result, key, partial(self._present, cond, now, open_now, result))
        return result

    @staticmethod
    def _guarded(result: ReconcileResult, key: AlertKey, step: Callable[[], None]) -> None:
        """Run one key's step; another workstation winning the race is not an error: the
        next tick reads what it wrote and carries on from there."""
        try:
            step()
        except ConflictError:
            result.conflicts.append(key)

    # -- condition present -------------------------------------------------------------

    def _present(
        self,
        cond: Condition,
        now: datetime,
        open_now: dict[AlertKey, Alert],
        result: ReconcileResult,
    ) -> None:
        current = open_now.get(cond.key)
        if current is not None:
            updated = self._update_open(current, cond, now)
            if updated is not None:
                open_now[cond.key] = updated
                result.updated.append(updated)
            return
        latest = self._store.get_latest(*cond.key)
        if latest is not None and self._suppressed(latest, cond):
            return
        window = timedelta(minutes=self._settings.reopen_window_min)
        if (
            latest is not None
            and latest.resolved_at is not None
            and now - latest.resolved_at <= window
        ):
            alert = self._reopen(latest, cond, now)
            result.reopened.append(alert)
        else:
            alert = self._raise(cond, now)
            result.raised.append(alert)
        open_now[cond.key] = alert

    @staticmethod
    def _suppressed(latest: Alert, cond: Condition) -> bool:
        if cond.kind.latched:
            return cond.occurrence is None or cond.occurrence == latest.last_occurrence
        return latest.cause_active

    def _update_open(self, alert: Alert, cond: Condition, now: datetime) -> Alert | None:
        if cond.kind.latched:
            if cond.occurrence is None or cond.occurrence == alert.last_occurrence:
                return None
            deadlines = [d for d in (alert.sla_deadline, cond.sla_deadline) if d is not None]
            new = self._with_condition(alert, cond, now)
            new = dataclasses.replace(
                new,
                count=alert.count + 1,
                severity=max(alert.severity, cond.severity),
                sla_deadline=min(deadlines) if deadlines else None,
            )
            return self._write(alert, new, "repeat", now)
        if cond.severity != alert.severity:
            return self._write(
                alert, self._with_condition(alert, cond, now), "severity_change", now
            )
        refresh = timedelta(seconds=self._settings.refresh_interval_s)
        if now - alert.last_seen >= refresh or not alert.cause_active:
            return self._write(alert, self._with_condition(alert, cond, now), None, now)
        return None

    @staticmethod
    def _with_condition(alert: Alert, cond: Condition, now: datetime) -> Alert:
        return dataclasses.replace(
            alert,
            severity=cond.severity,
            title=cond.title,
            details=_details(alert.details, cond, now),
            sla_deadline=cond.sla_deadline,
            last_seen=now,
            last_occurrence=cond.occurrence or alert.last_occurrence,
            cause_active=not cond.kind.latched,
            vehicle_id=cond.vehicle_id or alert.vehicle_id,
            stop_id=cond.stop_id or alert.stop_id,
        )

    def _raise(self, cond: Condition, now: datetime) -> Alert:
        alert = self._store.insert(
            Alert(
                kind=cond.kind,
                subject=cond.subject,
                severity=cond.severity,
                title=cond.title,
                first_seen=now,
                opened_at=now,
                last_seen=now,
                details=_details(None, cond, now),
                vehicle_id=cond.vehicle_id,
                stop_id=cond.stop_id,
                sla_deadline=cond.sla_deadline,
                cause_active=not cond.kind.latched,
                last_occurrence=cond.occurrence,
                updated_at=now,
                updated_by=SYSTEM_ACTOR,
            )
        )
        self._audit(None, alert, "raise", now)
        return alert

    def _reopen(self, latest: Alert, cond: Condition, now: datetime) -> Alert:
        status = target_status(latest, Action.REOPEN)
        new = dataclasses.replace(
            self._with_condition(latest, cond, now),
            status=status,
            count=latest.count + 1,
            opened_at=now,
            acknowledged_at=None,
            acknowledged_by=None,
            assignee=None,
            assigned_at=None,
            escalated_at=None,
            escalated_by=None,
            snoozed_until=None,
            status_before_snooze=None,
            resolved_at=None,
            resolved_by=None,
            resolution_code=None,
            resolution_note="",
            auto_resolved=False,
        )
        return self._write(latest, new, Action.REOPEN.value, now)

    # -- condition absent --------------------------------------------------------------

    def _auto_resolve(
        self,
        alert: Alert,
        present: dict[AlertKey, list[Condition]],
        now: datetime,
        result: ReconcileResult,
    ) -> None:
        successor = SUPERSEDED_BY.get(alert.kind)
        superseded = successor is not None and (successor, alert.subject) in present
        new = dataclasses.replace(
            alert,
            status=target_status(alert, Action.AUTO_RESOLVE),
            resolved_at=now,
            resolved_by=SYSTEM_ACTOR,
            resolution_code=ResolutionCode.SUPERSEDED
            if superseded
            else ResolutionCode.CAUSE_CLEARED,
            auto_resolved=True,
            cause_active=False,
            snoozed_until=None,
            status_before_snooze=None,
        )
        result.auto_resolved.append(self._write(alert, new, Action.AUTO_RESOLVE.value, now))

    def _cause_cleared(self, alert: Alert) -> None:
        self._store.update(dataclasses.replace(alert, cause_active=False), alert.version)

    # -- writing -----------------------------------------------------------------------

    def _write(self, old: Alert, new: Alert, action: str | None, now: datetime) -> Alert:
        """Update with the version read; audit it unless it is a mere refresh (``None``)."""
        stamped = dataclasses.replace(new, updated_at=now, updated_by=SYSTEM_ACTOR)
        written = self._store.update(stamped, old.version)
        if action is not None:
            self._audit(old, written, action, now)
        return written

    def _audit(self, before: Alert | None, after: Alert, action: str, now: datetime) -> None:
        assert after.id is not None
        self._store.append_audit(
            AuditEntry(
                alert_id=after.id,
                ts=now,
                actor=SYSTEM_ACTOR,
                action=action,
                before=audit_view(before) if before is not None else None,
                after=audit_view(after),
            )
        )


def _details(old: Mapping[str, Any] | None, cond: Condition, now: datetime) -> dict[str, Any]:
    """The condition's details, plus the history of its predicted arrival.

    Each written change of ``predicted_arrival`` is appended as ``[written at, predicted]``
    to ``eta_history`` (the last :data:`ETA_HISTORY_MAX`), so the detail pane can show how the
    ETA drifted before the alert was raised and while it was worked on.
    """
    details = dict(cond.details)
    history = [list(h) for h in (old or {}).get("eta_history", ()) if len(h) == 2]
    predicted = details.get("predicted_arrival")
    if predicted and (not history or history[-1][1] != predicted):
        history.append([now.isoformat(), predicted])
    if history:
        details["eta_history"] = history[-ETA_HISTORY_MAX:]
    return details
