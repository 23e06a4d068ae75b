"""Rules fed by edges rather than states: vehicle events and geofence crossings.

Their alerts are *latched* (see :attr:`AlertKind.latched`): they never auto-resolve, because
nothing in the next snapshot can say that a refused parcel has been dealt with. Each yields a
condition with an ``occurrence`` id, so the same event fed twice counts once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from dispatcher.alerts.facts import EventKind, IssueReason, Snapshot, VehicleEventFact
from dispatcher.alerts.geo import in_fence
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.model.alerts import (
    AlertKind,
    Condition,
    Severity,
    fence_subject,
    stop_subject,
    vehicle_subject,
)

ISSUE_SEVERITY = {
    IssueReason.DAMAGED: Severity.HIGH,
    IssueReason.ADDRESS_NOT_FOUND: Severity.HIGH,
    IssueReason.CUSTOMER_REFUSED: Severity.MEDIUM,
    IssueReason.OTHER: Severity.MEDIUM,
}
"""Address not found and damaged goods keep a driver waiting; a refusal is a return trip."""


def _event_subject(event: VehicleEventFact) -> str:
    return stop_subject(event.stop_id) if event.stop_id else vehicle_subject(event.vehicle_id)


def _customer(snapshot: Snapshot, event: VehicleEventFact) -> str:
    stop = snapshot.stop(event.stop_id) if event.stop_id else None
    return stop.customer_name if stop is not None else ""


def _order(snapshot: Snapshot, event: VehicleEventFact) -> str:
    stop = snapshot.stop(event.stop_id) if event.stop_id else None
    return stop.order_ref if stop is not None else ""


def _where(snapshot: Snapshot, event: VehicleEventFact) -> str:
    stop = snapshot.stop(event.stop_id) if event.stop_id else None
    if stop is not None:
        return f"stop {stop.name}"
    return f"stop {event.stop_id}" if event.stop_id else f"vehicle {event.vehicle_id}"


class FailedDeliveryRule:
    """The driver reported a failed delivery (with the device's reason)."""

    kinds = frozenset({AlertKind.FAILED_DELIVERY})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for e in snapshot.events:
            if e.kind is not EventKind.FAILED:
                continue
            reason = (e.reason or "no reason given").strip()
            yield Condition(
                kind=AlertKind.FAILED_DELIVERY,
                subject=_event_subject(e),
                severity=Severity.HIGH,
                title=f"Delivery failed at {_where(snapshot, e)}: {reason}",
                details={
                    "reason": reason,
                    "note": e.note,
                    "event_ts": e.ts.isoformat(),
                    "customer": _customer(snapshot, e),
                    "order": _order(snapshot, e),
                },
                sla_deadline=e.ts + timedelta(minutes=self._t.failed_delivery_sla_min),
                vehicle_id=e.vehicle_id,
                stop_id=e.stop_id,
                occurrence=e.event_id,
            )


class DriverIssueRule:
    """The driver reported an issue: damaged goods, address not found, customer refused..."""

    kinds = frozenset({AlertKind.DRIVER_ISSUE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for e in snapshot.events:
            if e.kind is not EventKind.ISSUE:
                continue
            reason = IssueReason.parse(e.reason)
            label = reason.value.replace("_", " ")
            if reason is IssueReason.OTHER and e.reason:
                label = e.reason.strip()
            yield Condition(
                kind=AlertKind.DRIVER_ISSUE,
                subject=_event_subject(e),
                severity=ISSUE_SEVERITY[reason],
                title=f"Driver issue at {_where(snapshot, e)}: {label}",
                details={
                    "reason": reason.value,
                    "reported": e.reason,
                    "note": e.note,
                    "event_ts": e.ts.isoformat(),
                    "customer": _customer(snapshot, e),
                    "order": _order(snapshot, e),
                },
                sla_deadline=e.ts + timedelta(minutes=self._t.issue_sla_min),
                vehicle_id=e.vehicle_id,
                stop_id=e.stop_id,
                occurrence=e.event_id,
            )


class GeofenceRule:
    """A vehicle entered or left a depot or zone (circle or polygon).

    A crossing is a change, so this rule remembers which fences each vehicle was in at the
    previous evaluation. The first sight of a vehicle sets that memory without raising
    anything (we do not know where it came from), which also means a restart is quiet.
    """

    kinds = frozenset({AlertKind.GEOFENCE_ENTER, AlertKind.GEOFENCE_EXIT})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds
        self._inside: dict[tuple[str, str], bool] = {}

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            pos = v.position
            if pos is None:
                continue
            for fence in snapshot.geofences:
                key = (v.vehicle_id, fence.fence_id)
                inside = in_fence(pos, fence)
                before = self._inside.get(key)
                self._inside[key] = inside
                if before is None or before == inside:
                    continue
                wanted = fence.alert_on_enter if inside else fence.alert_on_exit
                if not wanted:
                    continue
                kind = AlertKind.GEOFENCE_ENTER if inside else AlertKind.GEOFENCE_EXIT
                verb = "entered" if inside else "left"
                yield Condition(
                    kind=kind,
                    subject=fence_subject(v.vehicle_id, fence.fence_id),
                    severity=fence.severity,
                    title=f"{v.name} {verb} {fence.kind.value} {fence.name}",
                    details={
                        "fence": fence.name,
                        "fence_kind": fence.kind.value,
                        "lat": pos[0],
                        "lon": pos[1],
                    },
                    vehicle_id=v.vehicle_id,
                    occurrence=f"{kind.value}@{now.isoformat()}",
                )
