"""The facts the detection rules read: small dataclasses the composition root fills.

The rules do not import the fleet state, the planner or the ETA model: the lead's wiring copies
what they know into these facts once per tick. That keeps every rule testable with a handful of
literals and lets the other packages change shape without touching the rules.

Facts validate themselves on construction (aware datetimes, coordinates in range, capacities
not negative) and raise :class:`~dispatcher.errors.ValidationError` with a reason, so bad input
is refused at the door instead of crashing a rule half-way through a tick.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dispatcher.errors import ValidationError
from dispatcher.model.alerts import Severity

LatLon = tuple[float, float]


class EventKind(enum.StrEnum):
    """The vehicle events that raise alerts."""

    FAILED = "failed"
    ISSUE = "issue"


class IssueReason(enum.StrEnum):
    """Driver-reported problems the queue knows by name; anything else is ``OTHER``."""

    DAMAGED = "damaged"
    ADDRESS_NOT_FOUND = "address_not_found"
    CUSTOMER_REFUSED = "customer_refused"
    OTHER = "other"

    @classmethod
    def parse(cls, text: str | None) -> IssueReason:
        """Map a free-text reason from a device to a known reason (never fails)."""
        if not text:
            return cls.OTHER
        norm = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(norm)
        except ValueError:
            return cls.OTHER


class FenceKind(enum.StrEnum):
    DEPOT = "depot"
    ZONE = "zone"


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValidationError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_point(name: str, lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValidationError(f"{name} is not a valid coordinate: ({lat}, {lon})")


def _check_id(name: str, value: str) -> None:
    if not value or not value.strip():
        raise ValidationError(f"{name} must not be empty")


@dataclass(frozen=True, slots=True)
class VehicleFacts:
    """What the rules need to know about one vehicle right now.

    Attributes:
        vehicle_id: Stable id (the one in the MQTT topic).
        label: What dispatchers call it ("Van 7").
        online: False once the broker delivered its last will / an offline status.
        last_seen: Time of the last message of any kind (None: never heard from).
        lat: Last good position (None: unknown).
        lon: Last good position.
        speed_kmh: Last reported speed.
        stopped_since: When it last stopped moving (None: moving or unknown).
        planned_path: The planned route as (lat, lon) points, in driving order.
        shift_end: When the driver's shift ends.
        predicted_route_end: When the ETA model predicts the route ends (back at depot).
        load: Current load in the capacity unit.
        capacity: Capacity in the same unit (None: unlimited / unknown).
        on_duty: False outside the shift: an off-duty vehicle going offline is not news.
        plan_feasible: False when the planner says the current plan cannot be met.
        infeasible_reasons: The planner's reasons, shown to the dispatcher.
    """

    vehicle_id: str
    label: str = ""
    online: bool = True
    last_seen: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    stopped_since: datetime | None = None
    planned_path: Sequence[LatLon] = ()
    shift_end: datetime | None = None
    predicted_route_end: datetime | None = None
    load: float = 0.0
    capacity: float | None = None
    on_duty: bool = True
    plan_feasible: bool = True
    infeasible_reasons: Sequence[str] = ()

    def __post_init__(self) -> None:
        _check_id("vehicle_id", self.vehicle_id)
        for name in ("last_seen", "stopped_since", "shift_end", "predicted_route_end"):
            _check_aware(name, getattr(self, name))
        if (self.lat is None) != (self.lon is None):
            raise ValidationError(f"vehicle {self.vehicle_id}: lat and lon go together")
        if self.lat is not None and self.lon is not None:
            _check_point(f"vehicle {self.vehicle_id} position", self.lat, self.lon)
        for lat, lon in self.planned_path:
            _check_point(f"vehicle {self.vehicle_id} planned path", lat, lon)
        if self.capacity is not None and self.capacity < 0:
            raise ValidationError(f"vehicle {self.vehicle_id}: capacity must not be negative")

    @property
    def name(self) -> str:
        return self.label or self.vehicle_id

    @property
    def position(self) -> LatLon | None:
        if self.lat is None or self.lon is None:
            return None
        return (self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class StopFacts:
    """What the rules need to know about one stop (one customer) right now.

    ``status`` uses the values of :class:`dispatcher.model.core.StopStatus`; a final status
    (done/failed/skipped) stops the "at risk" and "will be late" predictions.
    """

    stop_id: str
    vehicle_id: str | None
    customer_name: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    predicted_arrival: datetime | None = None
    actual_arrival: datetime | None = None
    status: str = "pending"
    lat: float | None = None
    lon: float | None = None
    #: The order number a person knows the stop by (the database id is internal).
    order_ref: str = ""

    def __post_init__(self) -> None:
        _check_id("stop_id", self.stop_id)
        for name in ("window_start", "window_end", "predicted_arrival", "actual_arrival"):
            _check_aware(name, getattr(self, name))
        if self.window_start and self.window_end and self.window_end < self.window_start:
            raise ValidationError(f"stop {self.stop_id}: time window ends before it starts")
        if (self.lat is None) != (self.lon is None):
            raise ValidationError(f"stop {self.stop_id}: lat and lon go together")
        if self.lat is not None and self.lon is not None:
            _check_point(f"stop {self.stop_id}", self.lat, self.lon)

    @property
    def is_final(self) -> bool:
        return self.status in ("done", "failed", "skipped")

    @property
    def name(self) -> str:
        """How titles name the stop: its order number (as the boards do), else its id."""
        ref = self.order_ref or self.stop_id
        return f"{ref} ({self.customer_name})" if self.customer_name else ref


@dataclass(frozen=True, slots=True)
class VehicleEventFact:
    """A failed delivery or a driver-reported issue. Feed each event once (it is an edge)."""

    event_id: str
    vehicle_id: str
    ts: datetime
    kind: EventKind
    reason: str | None = None
    stop_id: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        _check_id("event_id", self.event_id)
        _check_id("vehicle_id", self.vehicle_id)
        _check_aware("ts", self.ts)


@dataclass(frozen=True, slots=True)
class Geofence:
    """A depot or zone: a circle (``center`` + ``radius_m``) or a polygon (``polygon``).

    ``alert_on_enter``/``alert_on_exit`` say which crossings the control room wants to hear
    about (a restricted zone: enter; a depot: exit at the start of the day, for instance).
    """

    fence_id: str
    name: str
    kind: FenceKind = FenceKind.ZONE
    center: LatLon | None = None
    radius_m: float | None = None
    polygon: Sequence[LatLon] = ()
    alert_on_enter: bool = True
    alert_on_exit: bool = True
    severity: Severity = Severity.LOW

    def __post_init__(self) -> None:
        _check_id("fence_id", self.fence_id)
        circle = self.center is not None and self.radius_m is not None
        if circle == bool(self.polygon):
            raise ValidationError(f"geofence {self.fence_id}: give a circle or a polygon, not both")
        if circle and self.radius_m is not None and self.radius_m <= 0:
            raise ValidationError(f"geofence {self.fence_id}: radius must be positive")
        if self.polygon and len(self.polygon) < 3:
            raise ValidationError(f"geofence {self.fence_id}: a polygon needs 3 points or more")
        for lat, lon in [*self.polygon, *([self.center] if self.center else [])]:
            _check_point(f"geofence {self.fence_id}", lat, lon)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the rules see in one tick. It must be complete: an open alert whose cause
    is missing from the snapshot auto-resolves."""

    vehicles: Sequence[VehicleFacts] = ()
    stops: Sequence[StopFacts] = ()
    events: Sequence[VehicleEventFact] = ()
    geofences: Sequence[Geofence] = field(default_factory=tuple)

    def stops_of(self, vehicle_id: str) -> list[StopFacts]:
        return [s for s in self.stops if s.vehicle_id == vehicle_id]

    def stop(self, stop_id: str) -> StopFacts | None:
        return next((s for s in self.stops if s.stop_id == stop_id), None)
