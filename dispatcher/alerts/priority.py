"""Priority: which exception a dispatcher should look at first.

Two things matter: how bad it is (severity) and how long before a customer is hurt (the SLA
deadline). Neither alone works: sorting by severity puts a critical problem due tonight above
a high one due in five minutes; sorting by deadline lets a crashed van wait behind a 'low'.
So severity buys lead time::

    minutes_left = clamp(sla_deadline - now, -60, 240)   (240 when there is no deadline)
    urgency      = minutes_left - SEVERITY_LEAD_MIN[severity]
    sort key     = (group, urgency, -severity, opened_at, id)   ascending

with SEVERITY_LEAD_MIN = low 0, medium 15, high 30, critical 60, and group 0 for alerts being
worked (new, acknowledged, assigned, escalated), 1 for snoozed, 2 for closed. A critical
alert therefore sorts like a low one due an hour earlier. The clamp stops a stop that was
late hours ago (nothing left to save) from sitting above everything forever, and makes
"no deadline" rank like a deadline four hours away.
"""

from __future__ import annotations

from datetime import datetime

from dispatcher.model.alerts import Alert, AlertStatus, Severity

SEVERITY_LEAD_MIN = {
    Severity.LOW: 0.0,
    Severity.MEDIUM: 15.0,
    Severity.HIGH: 30.0,
    Severity.CRITICAL: 60.0,
}
NO_DEADLINE_MIN = 240.0
OVERDUE_FLOOR_MIN = -60.0

PriorityKey = tuple[int, float, int, datetime, int]


def minutes_left(alert: Alert, now: datetime) -> float | None:
    """Minutes until the SLA deadline (negative once passed); None without a deadline."""
    if alert.sla_deadline is None:
        return None
    return (alert.sla_deadline - now).total_seconds() / 60.0


def urgency_minutes(alert: Alert, now: datetime) -> float:
    """The clamped time left minus the severity's lead: lower is more urgent."""
    left = minutes_left(alert, now)
    left = NO_DEADLINE_MIN if left is None else max(OVERDUE_FLOOR_MIN, min(NO_DEADLINE_MIN, left))
    return left - SEVERITY_LEAD_MIN[alert.severity]


def _group(alert: Alert) -> int:
    if not alert.is_open:
        return 2
    return 1 if alert.status is AlertStatus.SNOOZED else 0


def priority_key(alert: Alert, now: datetime) -> PriorityKey:
    """Sort key, most urgent first: ``sorted(alerts, key=lambda a: priority_key(a, now))``."""
    return (
        _group(alert),
        urgency_minutes(alert, now),
        -int(alert.severity),
        alert.opened_at,
        alert.id or 0,
    )
