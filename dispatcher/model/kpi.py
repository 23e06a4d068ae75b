"""The plain inputs of every KPI: one day's stops, vehicles, exceptions and their audit.

The persistence layer (:mod:`dispatcher.persistence.kpi_repo`) fills these from the database;
tests build them by hand. Nothing here knows about SQL or Qt, so a definition can be checked
on a five-stop day written in a test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from dispatcher.model.alerts import Alert, AuditEntry

#: Statuses after which nothing more happens to a stop today.
FINAL_STATUSES = frozenset({"done", "failed", "skipped"})


@dataclass(frozen=True, slots=True)
class StopRecord:
    """One stop of the day with what happened to it, as the KPIs measure it.

    Not :class:`dispatcher.model.stops.StopView` (the stored stop as the views show it):
    ``arrival`` is derived from the delivery events and ``attempts`` counted from them, and
    ``driver_id`` is the day's driver, so the figures do not move when a row is edited later.

    Attributes:
        id: The stop's database id.
        order_ref: The order reference drivers and events use.
        kind: ``delivery`` or ``pickup``.
        status: ``pending``, ``next``, ``arrived``, ``done``, ``failed`` or ``skipped``.
        vehicle_id: The vehicle whose route holds the stop (``None``: unassigned).
        driver_id: That vehicle's driver, if known.
        sequence: Position in the route (1-based).
        window_start: Earliest arrival promised to the customer (aware UTC) or ``None``.
        window_end: Latest arrival promised or ``None``.
        planned_arrival: When the plan expects the vehicle there.
        arrival: The *first* arrival at the stop (first ``arrived`` event, else the stop's
            recorded arrival, else its first completion) — see docs/kpi.md.
        completed_at: When the stop last reached ``done``/``failed``.
        attempts: Completed attempts (each ``delivered``/``picked_up``/``failed`` counts one).
    """

    id: int
    order_ref: str
    kind: str = "delivery"
    status: str = "pending"
    vehicle_id: str | None = None
    driver_id: str | None = None
    sequence: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    planned_arrival: datetime | None = None
    arrival: datetime | None = None
    completed_at: datetime | None = None
    attempts: int = 0
    customer: str = ""
    lat: float = 0.0
    lon: float = 0.0
    service_s: int = 300
    demand: int = 1

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class VehicleRecord:
    """A vehicle with its shift (local times) and depot, for the planned schedule."""

    id: str
    name: str
    driver_id: str | None = None
    driver_name: str = ""
    capacity: int = 100
    shift_start: time = time(8, 0)
    shift_end: time = time(17, 0)
    depot_lat: float | None = None
    depot_lon: float | None = None
    #: The driver's break (fleet setup): due ``break_after_min`` into the shift, to begin by
    #: ``break_latest_min``, lasting ``break_min`` (the timeline shows where it falls).
    break_after_min: int | None = None
    break_min: int = 0
    break_latest_min: int | None = None
    #: Which road profile times it (``[routing.profiles]``).
    vehicle_type: str = "van"


@dataclass(frozen=True, slots=True)
class DayRecords:
    """Everything the KPIs of one service day are computed from.

    ``alerts`` are the exceptions open now or closed during the day; ``audit`` their audit
    entries of the day (what time to acknowledge/resolve is measured on).
    """

    day: date
    tz: tzinfo
    stops: tuple[StopRecord, ...] = ()
    vehicles: tuple[VehicleRecord, ...] = ()
    alerts: tuple[Alert, ...] = ()
    audit: tuple[AuditEntry, ...] = ()

    def midnight(self) -> datetime:
        """Local midnight of the day: the origin of plan seconds and of the charts' clock."""
        return datetime.combine(self.day, time(0), tzinfo=self.tz)

    def with_planned(self, planned: dict[int, datetime]) -> DayRecords:
        """A copy where stops without a stored planned arrival get the one from ``planned``."""
        stops = tuple(
            s
            if s.planned_arrival is not None or s.id not in planned
            else replace(s, planned_arrival=planned[s.id])
            for s in self.stops
        )
        return replace(self, stops=stops)


class ScopeKind(StrEnum):
    FLEET = "fleet"
    ROUTE = "route"
    DRIVER = "driver"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the day a report covers: the fleet, one route (vehicle) or one driver."""

    kind: ScopeKind = ScopeKind.FLEET
    key: str | None = None
    #: What the selector shows; not part of the identity (a renamed vehicle is the same route).
    label: str = field(default="Whole fleet", compare=False)


FLEET = Scope()


@dataclass(frozen=True, slots=True)
class ScopedDay:
    """The part of a :class:`DayRecords` one scope sees (stops, alerts, audit)."""

    records: DayRecords
    scope: Scope
    stops: tuple[StopRecord, ...] = field(default=())
    alerts: tuple[Alert, ...] = field(default=())
    audit: tuple[AuditEntry, ...] = field(default=())


def scope_day(records: DayRecords, scope: Scope) -> ScopedDay:
    """Restrict ``records`` to ``scope``.

    A route is one vehicle's day (routes are unique per vehicle and day), so it is keyed by
    vehicle id; a driver covers every vehicle that driver is on. Exceptions follow their
    vehicle; exceptions about no vehicle (a stop not on any route) only count fleet-wide.
    """
    if scope.kind is ScopeKind.FLEET:
        return ScopedDay(records, scope, records.stops, records.alerts, records.audit)
    vehicles = _vehicles_of(records, scope)
    stops = tuple(s for s in records.stops if s.vehicle_id in vehicles)
    alerts = tuple(a for a in records.alerts if a.vehicle_id in vehicles)
    ids = {a.id for a in alerts}
    audit = tuple(e for e in records.audit if e.alert_id in ids)
    return ScopedDay(records, scope, stops, alerts, audit)


def _vehicles_of(records: DayRecords, scope: Scope) -> set[str]:
    if scope.kind is ScopeKind.ROUTE:
        return {scope.key} if scope.key else set()
    return {v.id for v in records.vehicles if v.driver_id is not None and v.driver_id == scope.key}


def scopes_of(records: DayRecords) -> list[Scope]:
    """The fleet, then every route with stops, then every driver of such a route."""
    on_route = {s.vehicle_id for s in records.stops if s.vehicle_id}
    vehicles = [v for v in records.vehicles if v.id in on_route]
    found = [FLEET]
    found += [Scope(ScopeKind.ROUTE, v.id, f"Route {v.name} ({v.id})") for v in vehicles]
    drivers = {v.driver_id: v.driver_name or v.driver_id for v in vehicles if v.driver_id}
    found += [
        Scope(ScopeKind.DRIVER, d, f"Driver {name}")
        for d, name in sorted(drivers.items(), key=lambda item: item[1])
    ]
    return found


def by_vehicle(stops: Iterable[StopRecord]) -> dict[str, list[StopRecord]]:
    """Stops grouped by vehicle in route order (unassigned stops left out)."""
    groups: dict[str, list[StopRecord]] = {}
    for s in stops:
        if s.vehicle_id:
            groups.setdefault(s.vehicle_id, []).append(s)
    for group in groups.values():
        group.sort(key=lambda s: (s.sequence if s.sequence is not None else 1 << 30, s.id))
    return groups
