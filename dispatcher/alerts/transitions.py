"""The workflow as data: which action may move an alert from which status to which.

::

    new -> acknowledged -> assigned -> escalated -> resolved | dismissed
    (assign also from new; resolve/dismiss from any open status; snooze from new,
    acknowledged or assigned, and wake back to where it was; the system auto-resolves
    any open alert and re-opens a closed one to new)

The full diagram is in docs/exceptions.md. Who may take each step is the business of
:mod:`dispatcher.alerts.permissions`; this table only says what is possible at all.
"""

from __future__ import annotations

import enum

from dispatcher.errors import InvalidTransition
from dispatcher.model.alerts import CLOSED_STATUSES, OPEN_STATUSES, Alert, AlertStatus


class Action(enum.StrEnum):
    """A workflow step; the value is the ``action`` written to the audit log."""

    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    DISMISS = "dismiss"
    SNOOZE = "snooze"
    WAKE = "wake"
    AUTO_RESOLVE = "auto_resolve"
    REOPEN = "reopen"

    @property
    def by_system_only(self) -> bool:
        return self in (Action.AUTO_RESOLVE, Action.REOPEN)


S = AlertStatus
_WORKING = frozenset({S.NEW, S.ACKNOWLEDGED, S.ASSIGNED})

TRANSITIONS: dict[Action, tuple[frozenset[AlertStatus], AlertStatus | None]] = {
    Action.ACKNOWLEDGE: (frozenset({S.NEW}), S.ACKNOWLEDGED),
    Action.ASSIGN: (_WORKING | {S.ESCALATED}, S.ASSIGNED),
    Action.ESCALATE: (_WORKING, S.ESCALATED),
    Action.RESOLVE: (OPEN_STATUSES, S.RESOLVED),
    Action.DISMISS: (OPEN_STATUSES, S.DISMISSED),
    Action.SNOOZE: (_WORKING, S.SNOOZED),
    Action.WAKE: (frozenset({S.SNOOZED}), None),  # None: back to status_before_snooze
    Action.AUTO_RESOLVE: (OPEN_STATUSES, S.RESOLVED),
    Action.REOPEN: (CLOSED_STATUSES, S.NEW),
}
"""action -> (statuses it may start from, status it leads to)."""


def target_status(alert: Alert, action: Action) -> AlertStatus:
    """The status ``action`` leads to from ``alert``'s; :class:`InvalidTransition` if none."""
    sources, target = TRANSITIONS[action]
    if alert.status not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise InvalidTransition(
            f"cannot {action.value} exception #{alert.id}: it is {alert.status.value} "
            f"(possible only when {allowed})"
        )
    if target is None:
        return alert.status_before_snooze or AlertStatus.NEW
    return target
