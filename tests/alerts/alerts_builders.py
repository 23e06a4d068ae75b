"""Scripted facts for the alert tests: one place that knows sensible defaults.

Positions are in central Lyon; T0 is 09:00 UTC on the demo day. Every builder takes keyword
overrides so a test states only what matters to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatcher.alerts.facts import (
    EventKind,
    FenceKind,
    Geofence,
    Snapshot,
    StopFacts,
    VehicleEventFact,
    VehicleFacts,
)
from dispatcher.model.alerts import AlertKind, Condition, Role, Severity, User

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DEPOT = (45.7500, 4.8500)
HERE = (45.7600, 4.8400)

ALICE = User("alice", Role.DISPATCHER, "Alice")
BOB = User("bob", Role.DISPATCHER, "Bob")
SUE = User("sue", Role.SUPERVISOR, "Sue")
VIC = User("vic", Role.VIEWER, "Vic")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def vehicle(**kw: Any) -> VehicleFacts:
    fields: dict[str, Any] = {
        "vehicle_id": "V1",
        "label": "Van 1",
        "online": True,
        "last_seen": T0,
        "lat": HERE[0],
        "lon": HERE[1],
        "speed_kmh": 30.0,
    }
    fields.update(kw)
    return VehicleFacts(**fields)


def stop(**kw: Any) -> StopFacts:
    fields: dict[str, Any] = {
        "stop_id": "S1",
        "vehicle_id": "V1",
        "customer_name": "Mme Dupont",
        "window_start": T0,
        "window_end": T0 + minutes(60),
    }
    fields.update(kw)
    return StopFacts(**fields)


def event(**kw: Any) -> VehicleEventFact:
    fields: dict[str, Any] = {
        "event_id": "E1",
        "vehicle_id": "V1",
        "ts": T0,
        "kind": EventKind.FAILED,
        "reason": "customer absent",
        "stop_id": "S1",
    }
    fields.update(kw)
    return VehicleEventFact(**fields)


def circle(fence_id: str = "F1", **kw: Any) -> Geofence:
    fields: dict[str, Any] = {
        "fence_id": fence_id,
        "name": "Depot Gerland",
        "center": DEPOT,
        "radius_m": 200.0,
        "kind": FenceKind.DEPOT,
    }
    fields.update(kw)
    return Geofence(**fields)


def snap(*items: VehicleFacts | StopFacts | VehicleEventFact | Geofence) -> Snapshot:
    return Snapshot(
        vehicles=[i for i in items if isinstance(i, VehicleFacts)],
        stops=[i for i in items if isinstance(i, StopFacts)],
        events=[i for i in items if isinstance(i, VehicleEventFact)],
        geofences=[i for i in items if isinstance(i, Geofence)],
    )


def cond(
    kind: AlertKind = AlertKind.VEHICLE_OFFLINE,
    subject: str = "vehicle:V1",
    severity: Severity = Severity.HIGH,
    **kw: Any,
) -> Condition:
    """A condition as a rule would yield it (for reconcile and workflow tests)."""
    return Condition(
        kind=kind, subject=subject, severity=severity, title=f"{kind.value} {subject}", **kw
    )


def offset_m(
    point: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0
) -> tuple[float, float]:
    """A point ``north_m``/``east_m`` metres from ``point`` (small offsets, local projection)."""
    import math

    r = 6_371_008.8
    lat = point[0] + math.degrees(north_m / r)
    lon = point[1] + math.degrees(east_m / (r * math.cos(math.radians(point[0]))))
    return (lat, lon)


def evaluate(clock: Any, *items: Any, thresholds: Any = None) -> list[Condition]:
    """Run the default rule engine once over the given facts at ``clock``'s now."""
    from dispatcher.alerts.engine import RuleEngine

    return RuleEngine(clock, thresholds).evaluate(snap(*items))


def of_kind(conditions: list[Condition], kind: AlertKind) -> list[Condition]:
    return [c for c in conditions if c.kind is kind]
