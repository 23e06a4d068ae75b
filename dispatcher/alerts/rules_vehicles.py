"""Rules about a vehicle: connectivity, standing still, straying, overtime, plan, load."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from dispatcher import display
from dispatcher.alerts.facts import FenceKind, LatLon, Snapshot, VehicleFacts
from dispatcher.alerts.geo import distance_to_polyline_m, haversine_m, in_fence
from dispatcher.alerts.rules_common import (
    is_silent,
    iso,
    minutes,
    next_customer_deadline,
    round_min,
)
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.model.alerts import AlertKind, Condition, Severity, vehicle_subject


def _vehicle_condition(
    snapshot: Snapshot,
    vehicle: VehicleFacts,
    kind: AlertKind,
    *,
    severity: Severity,
    title: str,
    details: dict[str, object],
    sla_deadline: datetime | None = None,
) -> Condition:
    return Condition(
        kind=kind,
        subject=vehicle_subject(vehicle.vehicle_id),
        severity=severity,
        title=title,
        details={"vehicle": vehicle.name, **details},
        sla_deadline=sla_deadline or next_customer_deadline(snapshot, vehicle.vehicle_id),
        vehicle_id=vehicle.vehicle_id,
    )


class OfflineRule:
    """The vehicle said goodbye (last will / offline status) while on duty."""

    kinds = frozenset({AlertKind.VEHICLE_OFFLINE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            if v.on_duty and not v.online:
                yield _vehicle_condition(
                    snapshot,
                    v,
                    AlertKind.VEHICLE_OFFLINE,
                    severity=Severity.HIGH,
                    title=f"{v.name} is offline",
                    details={"last_seen": iso(v.last_seen)},
                )


class StaleRule:
    """Online as far as the broker knows, but silent for N minutes or more.

    Kept apart from offline because the cause differs: offline is a clean disconnect (app
    closed, phone off), stale is a tunnel, a frozen app or a dead battery in progress.
    An offline vehicle is never also stale.
    """

    kinds = frozenset({AlertKind.VEHICLE_STALE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            if not v.on_duty or not v.online or not is_silent(v, now, self._t.stale_after_min):
                continue
            silent = f"{round_min(now - v.last_seen)} min" if v.last_seen else "ever"
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.VEHICLE_STALE,
                severity=Severity.MEDIUM,
                title=f"{v.name} silent for {silent}",
                details={"last_seen": iso(v.last_seen)},
            )


class IdleRule:
    """Stopped for N minutes or more away from any of its stops and from every depot."""

    kinds = frozenset({AlertKind.VEHICLE_IDLE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        depots = [f for f in snapshot.geofences if f.kind is FenceKind.DEPOT]
        for v in snapshot.vehicles:
            pos = v.position
            if not v.on_duty or not v.online or v.stopped_since is None or pos is None:
                continue
            if is_silent(v, now, self._t.stale_after_min):
                continue  # an old position says nothing about standing still
            if v.speed_kmh is not None and v.speed_kmh > self._t.idle_speed_kmh:
                continue
            stopped = now - v.stopped_since
            if minutes(stopped) < self._t.idle_after_min:
                continue
            if self._near_a_stop(snapshot, v, pos) or any(in_fence(pos, d) for d in depots):
                continue
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.VEHICLE_IDLE,
                severity=Severity.MEDIUM,
                title=f"{v.name} stopped for {round_min(stopped)} min away from its stops",
                details={"stopped_since": iso(v.stopped_since), "lat": pos[0], "lon": pos[1]},
            )

    def _near_a_stop(self, snapshot: Snapshot, v: VehicleFacts, pos: LatLon) -> bool:
        return any(
            haversine_m(pos, (s.lat, s.lon)) <= self._t.stop_radius_m
            for s in snapshot.stops_of(v.vehicle_id)
            if s.lat is not None and s.lon is not None
        )


class DeviationRule:
    """More than N metres from the planned path (point-to-polyline, local projection)."""

    kinds = frozenset({AlertKind.ROUTE_DEVIATION})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            pos = v.position
            if not v.on_duty or not v.online or pos is None or not v.planned_path:
                continue
            if is_silent(v, now, self._t.stale_after_min):
                continue
            off_by = distance_to_polyline_m(pos, v.planned_path)
            if off_by <= self._t.deviation_m:
                continue
            off_text = display.current().short_distance(off_by)  # metres, feet or yards
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.ROUTE_DEVIATION,
                severity=Severity.MEDIUM,
                title=f"{v.name} is {off_text} off its planned route",
                details={"distance_m": round(off_by), "lat": pos[0], "lon": pos[1]},
            )


class ShiftOverrunRule:
    """The predicted end of the route is after the end of the driver's shift."""

    kinds = frozenset({AlertKind.SHIFT_OVERRUN})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            if v.shift_end is None or v.predicted_route_end is None:
                continue
            over = v.predicted_route_end - v.shift_end
            if minutes(over) <= self._t.shift_overrun_grace_min or over.total_seconds() <= 0:
                continue
            high = minutes(over) > self._t.shift_overrun_high_min
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.SHIFT_OVERRUN,
                severity=Severity.HIGH if high else Severity.MEDIUM,
                title=f"{v.name} predicted to finish {round_min(over)} min after the shift ends",
                details={
                    "overrun_min": round(minutes(over), 1),
                    "shift_end": iso(v.shift_end),
                    "predicted_route_end": iso(v.predicted_route_end),
                },
                sla_deadline=v.shift_end,
            )


class PlanInfeasibleRule:
    """The planner says the vehicle's current plan cannot be met (after a change)."""

    kinds = frozenset({AlertKind.PLAN_INFEASIBLE})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            if v.plan_feasible:
                continue
            reasons = list(v.infeasible_reasons)
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.PLAN_INFEASIBLE,
                severity=Severity.HIGH,
                title=f"Plan of {v.name} is infeasible" + (f": {reasons[0]}" if reasons else ""),
                details={"reasons": reasons},
            )


class CapacityRule:
    """More load on board (or planned) than the vehicle can carry."""

    kinds = frozenset({AlertKind.CAPACITY_EXCEEDED})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterator[Condition]:
        for v in snapshot.vehicles:
            if v.capacity is None or v.load <= v.capacity:
                continue
            yield _vehicle_condition(
                snapshot,
                v,
                AlertKind.CAPACITY_EXCEEDED,
                severity=Severity.HIGH,
                title=f"{v.name} over capacity: {v.load:g} / {v.capacity:g}",
                details={"load": v.load, "capacity": v.capacity},
            )
