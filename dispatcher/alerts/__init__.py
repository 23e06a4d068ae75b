"""The exception queue: detection rules, dedupe/auto-resolve, workflow, audit, figures.

Wiring, once per tick (GUI thread, after the fleet state and ETAs are updated)::

    conditions = engine.evaluate(snapshot)                  # facts -> conditions
    service.wake_due()                                      # snoozes that ran out
    service.reconcile(conditions, engine.healthy_kinds)     # conditions -> alerts + audit

and a person's action: ``service.acknowledge(alert_id, user, expected_version)`` etc.
The running system does this in :mod:`dispatcher.alerts.runner` (facts from
:mod:`~dispatcher.alerts.live_facts`, added to the core by :mod:`dispatcher.app`, several
workstations in :mod:`~dispatcher.alerts.sync`, front ends through
:mod:`~dispatcher.alerts.desk`); every change is announced as :class:`AlertsChanged`.
See docs/exceptions.md for the rules, the workflow and the permissions.
"""

from dispatcher.alerts.engine import RuleEngine, default_rules
from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.facts import (
    EventKind,
    FenceKind,
    Geofence,
    IssueReason,
    Snapshot,
    StopFacts,
    VehicleEventFact,
    VehicleFacts,
)
from dispatcher.alerts.listing import alert_to_dict, format_alerts, parse_status_filter
from dispatcher.alerts.permissions import can_see, check_permission
from dispatcher.alerts.priority import priority_key, urgency_minutes
from dispatcher.alerts.reconcile import Reconciler, ReconcileResult
from dispatcher.alerts.stats import SupervisorStats, compute_stats, write_stats_csv
from dispatcher.alerts.store import AlertStore, InMemoryAlertStore
from dispatcher.alerts.thresholds import ReconcileSettings, Thresholds
from dispatcher.alerts.transitions import TRANSITIONS, Action
from dispatcher.alerts.workflow import AlertService
from dispatcher.model.alerts import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    SYSTEM_ACTOR,
    Alert,
    AlertFilter,
    AlertKind,
    AlertStatus,
    AuditEntry,
    Condition,
    ResolutionCode,
    Role,
    Severity,
    User,
)

__all__ = [
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "SYSTEM_ACTOR",
    "TRANSITIONS",
    "Action",
    "Alert",
    "AlertFilter",
    "AlertKind",
    "AlertService",
    "AlertStatus",
    "AlertStore",
    "AlertsChanged",
    "AuditEntry",
    "ChangeSource",
    "Condition",
    "EventKind",
    "FenceKind",
    "Geofence",
    "InMemoryAlertStore",
    "IssueReason",
    "ReconcileResult",
    "ReconcileSettings",
    "Reconciler",
    "ResolutionCode",
    "Role",
    "RuleEngine",
    "Severity",
    "Snapshot",
    "StopFacts",
    "SupervisorStats",
    "Thresholds",
    "User",
    "VehicleEventFact",
    "VehicleFacts",
    "alert_to_dict",
    "can_see",
    "check_permission",
    "compute_stats",
    "default_rules",
    "format_alerts",
    "parse_status_filter",
    "priority_key",
    "urgency_minutes",
    "write_stats_csv",
]
