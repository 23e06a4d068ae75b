"""Value objects of the exception queue: alerts, conditions, audit entries, users.

The UI says "exception" (the logistics word); the code says ``Alert`` so that nobody confuses
it with a Python exception. Everything here is an immutable dataclass: the workflow and the
reconciliation build a new ``Alert`` with :func:`dataclasses.replace` and hand it to the store
with the version they read, which is what makes optimistic locking honest.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Role and User are the users room's (one table of people for every room); re-exported here
# because the queue's code and tests name them from this module.
from dispatcher.model.users import SYSTEM_ACTOR, Role, User

__all__ = [
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "RAISED_OUTSIDE_RULES",
    "SYSTEM_ACTOR",
    "Alert",
    "AlertKey",
    "AlertKind",
    "AlertStatus",
    "AuditEntry",
    "Condition",
    "ResolutionCode",
    "Role",
    "Severity",
    "User",
    "audit_view",
    "fence_subject",
    "stop_subject",
    "vehicle_subject",
]


class AlertKind(enum.StrEnum):
    """What went wrong. The value is stored in the database: never rename one."""

    AT_RISK = "at_risk"
    LATE = "late"
    FAILED_DELIVERY = "failed_delivery"
    DRIVER_ISSUE = "driver_issue"
    VEHICLE_OFFLINE = "vehicle_offline"
    VEHICLE_STALE = "vehicle_stale"
    VEHICLE_IDLE = "vehicle_idle"
    ROUTE_DEVIATION = "route_deviation"
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    SHIFT_OVERRUN = "shift_overrun"
    PLAN_INFEASIBLE = "plan_infeasible"
    CAPACITY_EXCEEDED = "capacity_exceeded"
    #: A customer message the outbox gave up on (raised by the relay, not by a rule).
    MESSAGE_FAILED = "message_failed"
    #: A customer asked for something a dispatcher decides (a new slot, "not home today"),
    #: raised by the web front's self-service (dispatcher/web/requests.py).
    CUSTOMER_REQUEST = "customer_request"
    #: A customer rated a delivery low on the tracking page (dispatcher/web/feedback.py).
    LOW_RATING = "low_rating"

    @property
    def latched(self) -> bool:
        """True for kinds raised by an event (an edge), which never auto-resolve.

        A failed delivery does not "clear" by itself: a person must decide what happens to the
        parcel. State kinds (late, offline...) resolve themselves when the state goes away.
        """
        return self in _LATCHED


_LATCHED = frozenset(
    {
        AlertKind.FAILED_DELIVERY,
        AlertKind.DRIVER_ISSUE,
        AlertKind.GEOFENCE_ENTER,
        AlertKind.GEOFENCE_EXIT,
        AlertKind.MESSAGE_FAILED,
        AlertKind.CUSTOMER_REQUEST,
        AlertKind.LOW_RATING,
    }
)

#: Kinds no rule evaluates: raised by another part of the core (the outbox relay), so the
#: rule runner's reconciliation never auto-resolves them.
RAISED_OUTSIDE_RULES = frozenset(
    {AlertKind.MESSAGE_FAILED, AlertKind.CUSTOMER_REQUEST, AlertKind.LOW_RATING}
)


class Severity(enum.IntEnum):
    """How bad it is; stored as the integer. Higher is worse."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class AlertStatus(enum.StrEnum):
    """Where an alert is in the workflow (see :mod:`dispatcher.alerts.workflow`)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"

    @property
    def is_open(self) -> bool:
        return self not in (AlertStatus.RESOLVED, AlertStatus.DISMISSED)


OPEN_STATUSES = frozenset(s for s in AlertStatus if s.is_open)
CLOSED_STATUSES = frozenset(s for s in AlertStatus if not s.is_open)


class ResolutionCode(enum.StrEnum):
    """Why an alert was closed. ``CAUSE_CLEARED`` and ``SUPERSEDED`` are the system's own."""

    CUSTOMER_CONTACTED = "customer_contacted"
    DRIVER_CONTACTED = "driver_contacted"
    RESCHEDULED = "rescheduled"
    REROUTED = "rerouted"
    DELIVERED = "delivered"
    RETURNED_TO_DEPOT = "returned_to_depot"
    FALSE_ALARM = "false_alarm"
    OTHER = "other"
    CAUSE_CLEARED = "cause_cleared"
    SUPERSEDED = "superseded"

    @property
    def system_only(self) -> bool:
        return self in (ResolutionCode.CAUSE_CLEARED, ResolutionCode.SUPERSEDED)


AlertKey = tuple[AlertKind, str]


def vehicle_subject(vehicle_id: str) -> str:
    """Subject key of an alert about a vehicle as a whole."""
    return f"vehicle:{vehicle_id}"


def stop_subject(stop_id: str) -> str:
    """Subject key of an alert about one stop (one customer)."""
    return f"stop:{stop_id}"


def fence_subject(vehicle_id: str, fence_id: str) -> str:
    """Subject key of a geofence crossing: one per vehicle and fence."""
    return f"vehicle:{vehicle_id}/fence:{fence_id}"


@dataclass(frozen=True, slots=True)
class Condition:
    """Something a rule sees right now; the reconciliation turns it into an alert.

    Attributes:
        kind: What is wrong.
        subject: The dedupe key within the kind (``stop:S1``, ``vehicle:V7``...).
        severity: How bad it is now.
        title: One line for a person ("Stop S1 (Ms Smith) predicted 12 min late").
        details: JSON-safe facts behind it (minutes late, distance...).
        sla_deadline: When the customer is hurt if nobody acts (None: no known deadline).
        vehicle_id: For filtering and for jumping to the vehicle on the map.
        stop_id: Same, for the stop.
        occurrence: For event kinds, the id of the event; a new id counts as a repeat.
    """

    kind: AlertKind
    subject: str
    severity: Severity
    title: str
    details: Mapping[str, Any] = field(default_factory=dict)
    sla_deadline: datetime | None = None
    vehicle_id: str | None = None
    stop_id: str | None = None
    occurrence: str | None = None

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.subject)


@dataclass(frozen=True, slots=True)
class Alert:
    """One exception in the queue: at most one open per (kind, subject).

    The row lives on across episodes: a cause that returns soon after closing re-opens it
    (``count`` goes up, ``opened_at`` moves). ``resolved_at``/``resolved_by`` record the close
    for both ``resolved`` and ``dismissed``; ``status`` says which. ``version`` is set by the
    store (1 on insert, +1 on every update) and is the optimistic lock.
    """

    kind: AlertKind
    subject: str
    severity: Severity
    title: str
    first_seen: datetime
    opened_at: datetime
    last_seen: datetime
    status: AlertStatus = AlertStatus.NEW
    details: Mapping[str, Any] = field(default_factory=dict)
    vehicle_id: str | None = None
    stop_id: str | None = None
    sla_deadline: datetime | None = None
    count: int = 1
    cause_active: bool = True
    last_occurrence: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    assigned_at: datetime | None = None
    escalated_at: datetime | None = None
    escalated_by: str | None = None
    snoozed_until: datetime | None = None
    status_before_snooze: AlertStatus | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_code: ResolutionCode | None = None
    resolution_note: str = ""
    auto_resolved: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None
    id: int | None = None
    version: int = 0

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.subject)

    @property
    def is_open(self) -> bool:
        return self.status.is_open


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log: who did what to which alert, before and after.

    ``before`` is None for the entry that raised the alert. ``after`` carries the note of the
    action (if any) under ``"note"``, so the SQL table needs no extra column.
    """

    alert_id: int
    ts: datetime
    actor: str
    action: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]
    id: int | None = None


def audit_view(alert: Alert) -> dict[str, Any]:
    """The JSON-safe workflow fields of ``alert`` recorded as before/after in the audit log."""
    return {
        "kind": alert.kind.value,
        "subject": alert.subject,
        "status": alert.status.value,
        "severity": int(alert.severity),
        "count": alert.count,
        "assignee": alert.assignee,
        "snoozed_until": _iso(alert.snoozed_until),
        "resolution_code": alert.resolution_code.value if alert.resolution_code else None,
        "auto_resolved": alert.auto_resolved,
        "version": alert.version,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list; a None field does not filter.

    Attributes:
        statuses: Any of these statuses (``OPEN_STATUSES`` for the live queue).
        kinds: Any of these kinds.
        vehicle_id: Alerts about this vehicle.
        stop_id: Alerts about this stop.
        assignee: Alerts assigned to this user id.
        cause_active: Alerts whose cause was present at the last reconciliation (or not).
        snoozed_until_before: Alerts with ``snoozed_until <= this`` (the ones due to wake).
        resolved_since: Alerts with ``resolved_at >= this`` (closed today, for the stats).
        limit: At most this many (the lowest ids).
    """

    statuses: frozenset[AlertStatus] | None = None
    kinds: frozenset[AlertKind] | None = None
    vehicle_id: str | None = None
    stop_id: str | None = None
    assignee: str | None = None
    cause_active: bool | None = None
    snoozed_until_before: datetime | None = None
    resolved_since: datetime | None = None
    limit: int | None = None

    def matches(self, alert: Alert) -> bool:
        """The reference semantics of every filter field (the SQL store mirrors them)."""
        checks = (
            self.statuses is None or alert.status in self.statuses,
            self.kinds is None or alert.kind in self.kinds,
            self.vehicle_id is None or alert.vehicle_id == self.vehicle_id,
            self.stop_id is None or alert.stop_id == self.stop_id,
            self.assignee is None or alert.assignee == self.assignee,
            self.cause_active is None or alert.cause_active == self.cause_active,
            self.snoozed_until_before is None
            or (
                alert.snoozed_until is not None and alert.snoozed_until <= self.snoozed_until_before
            ),
            self.resolved_since is None
            or (alert.resolved_at is not None and alert.resolved_at >= self.resolved_since),
        )
        return all(checks)
