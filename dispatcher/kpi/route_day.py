"""Planned against actual for one route day, with its cost and its emissions.

The *plan* is the frozen copy taken when the route was dispatched (its first delivery event,
:mod:`dispatcher.persistence.route_kpi_repo`), not the route as it stands now: the desk
edits routes all day, and a plan edited to match what happened would always look perfect.
The *actual* side comes from the position history (distance, drive time), the delivery
events (visits, service time) and the stops' outcome (on time, first attempt).

Every figure is defined in docs/kpi.md ("Planned vs actual", "Cost and emissions") and
checked by hand on small days in tests/kpi/test_route_day.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np

from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.geo import EARTH_RADIUS_M
from dispatcher.kpi.definitions import (
    DEFAULT_RULES,
    KpiRules,
    Ratio,
    Verdict,
    first_attempt,
    verdict,
)
from dispatcher.kpi.emissions import energy_and_co2e
from dispatcher.model.kpi import StopRecord
from dispatcher.model.route_kpi import (
    EnergyProfile,
    Fix,
    PlannedStop,
    PlanSnapshot,
    StopEvent,
    VehicleCosts,
)

#: A fix-to-fix segment at or above this average speed counts as driving.
MOVING_KMH = 5.0
#: Events that end a visit at a stop (the driver leaves after them).
VISIT_ENDS = ("delivered", "picked_up", "failed", "departed")


@dataclass(frozen=True, slots=True)
class Figures:
    """Distance, time and money of one side (planned or actual) of a route day."""

    distance_km: float
    drive_h: float
    service_h: float
    route_h: float
    stops: int
    cost: float
    energy: float
    co2e_kg: float


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """One stop: its planned and first actual arrival and the verdict against its window
    as promised at dispatch."""

    order_ref: str
    planned_arrival: datetime | None
    arrival: datetime | None
    verdict: Verdict
    attempts: int
    status: str
    #: The window end the stop was judged on (as frozen at dispatch, when in the plan).
    window_end: datetime | None = None
    #: Whether the stop was in the plan at dispatch (``False``: added afterwards).
    in_plan: bool = True

    @property
    def delta_min(self) -> float | None:
        """Actual minus planned arrival, minutes (negative: early)."""
        if self.planned_arrival is None or self.arrival is None:
            return None
        return (self.arrival - self.planned_arrival).total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class RouteDay:
    """Planned vs actual of one route day, ready to show or to store (the rollup row)."""

    route_id: int
    vehicle_id: str
    service_date: date
    plan_frozen: bool
    planned: Figures
    actual: Figures
    on_time: Ratio
    first_attempt: Ratio
    done: int
    failed: int
    skipped: int
    added: int
    removed: int
    parcels_delivered: int
    energy_unit: str
    outcomes: tuple[StopOutcome, ...] = field(default_factory=tuple)

    @property
    def cost_per_stop(self) -> float | None:
        return self.actual.cost / self.actual.stops if self.actual.stops else None

    @property
    def cost_per_parcel(self) -> float | None:
        return self.actual.cost / self.parcels_delivered if self.parcels_delivered else None

    @property
    def co2e_per_parcel_kg(self) -> float | None:
        return self.actual.co2e_kg / self.parcels_delivered if self.parcels_delivered else None


def planned_path(
    snapshot: PlanSnapshot, provider: TravelTimeProvider | None = None
) -> tuple[float, float, list[float]]:
    """(metres, free-flow seconds, each leg's seconds) of depot → stops → end depot.

    Without a depot the path starts at the first stop; without an end depot it returns to
    the start depot (no return when there is no depot at all).
    """
    points = [(s.lat, s.lon) for s in sorted(snapshot.stops, key=lambda s: s.sequence)]
    if snapshot.depot is not None:
        points = [snapshot.depot, *points]
    end = snapshot.end_depot or snapshot.depot
    if end is not None and snapshot.stops:
        points.append(end)
    if len(points) < 2:
        return 0.0, 0.0, []
    matrix = (provider or HaversineProvider()).matrix(points)
    legs = [
        (float(matrix.distance[i, i + 1]), float(matrix.duration[i, i + 1]))
        for i in range(len(points) - 1)
    ]
    return sum(d for d, _ in legs), sum(t for _, t in legs), [t for _, t in legs]


def planned_figures(
    snapshot: PlanSnapshot,
    costs: VehicleCosts,
    profile: EnergyProfile | None,
    provider: TravelTimeProvider | None = None,
) -> Figures:
    """The plan's distance, drive and service time, route time, cost and emissions.

    Route time runs from leaving the depot (first planned arrival − first leg) to coming
    back (last planned arrival + its service + the last leg); without planned arrivals it is
    drive + service time (no waiting).
    """
    metres, drive_s, legs = planned_path(snapshot, provider)
    stops = sorted(snapshot.stops, key=lambda s: s.sequence)
    service_s = float(sum(max(s.service_s, 0) for s in stops))
    route_s = drive_s + service_s
    first, last = (stops[0], stops[-1]) if stops else (None, None)
    if first and last and first.planned_arrival and last.planned_arrival and legs:
        lead = legs[0] if snapshot.depot is not None else 0.0
        tail = legs[-1] if (snapshot.end_depot or snapshot.depot) is not None else 0.0
        span = (last.planned_arrival - first.planned_arrival).total_seconds()
        route_s = lead + span + max(last.service_s, 0) + tail
    km = metres / 1000.0
    energy, co2e = energy_and_co2e(km, profile)
    return Figures(
        distance_km=km,
        drive_h=drive_s / 3600.0,
        service_h=service_s / 3600.0,
        route_h=route_s / 3600.0,
        stops=len(stops),
        cost=costs.of(km, route_s / 3600.0),
        energy=energy,
        co2e_kg=co2e,
    )


def track_figures(track: Sequence[Fix]) -> tuple[float, float, datetime | None, datetime | None]:
    """(metres along the track, seconds driving, first and last moving instant).

    Distance is great-circle from fix to fix (every fix, in time order; the formula of
    :func:`dispatcher.geo.haversine_m`, over numpy arrays: a day is thousands of fixes per
    vehicle). A segment counts as driving when its average speed is at least
    :data:`MOVING_KMH`; the route starts at the first such segment (leaving the depot) and
    ends at the last one.
    """
    fixes = sorted(track, key=lambda f: f.ts)
    if len(fixes) < 2:
        return 0.0, 0.0, None, None
    lat = np.radians([f.lat for f in fixes])
    lon = np.radians([f.lon for f in fixes])
    a = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    steps = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    seconds = np.array([(b.ts - a_.ts).total_seconds() for a_, b in itertools.pairwise(fixes)])
    with np.errstate(divide="ignore", invalid="ignore"):
        moving = (seconds > 0) & (steps / np.where(seconds > 0, seconds, 1.0) * 3.6 >= MOVING_KMH)
    where = np.flatnonzero(moving)
    if not len(where):
        return float(steps.sum()), 0.0, None, None
    start, end = fixes[int(where[0])].ts, fixes[int(where[-1]) + 1].ts
    return float(steps.sum()), float(seconds[moving].sum()), start, end


def service_seconds(events: Sequence[StopEvent]) -> float:
    """Time spent at stops: each ``arrived`` paired with the next visit-ending event of the
    same stop (a second attempt is a second visit; an arrival never closed counts 0)."""
    total = 0.0
    by_stop: dict[str, list[StopEvent]] = {}
    for e in sorted(events, key=lambda e: e.ts):
        by_stop.setdefault(e.order_ref, []).append(e)
    for stop_events in by_stop.values():
        opened: datetime | None = None
        for e in stop_events:
            if e.kind == "arrived" and opened is None:
                opened = e.ts
            elif e.kind in VISIT_ENDS and opened is not None:
                total += max((e.ts - opened).total_seconds(), 0.0)
                opened = None
    return total


def visited(stop: StopRecord) -> bool:
    """The vehicle got there at least once (an arrival or an attempt)."""
    return stop.arrival is not None or stop.attempts >= 1 or stop.status in ("done", "failed")


def compute_route_day(
    snapshot: PlanSnapshot,
    stops: Sequence[StopRecord],
    track: Sequence[Fix],
    events: Sequence[StopEvent],
    costs: VehicleCosts,
    profile: EnergyProfile | None,
    now: datetime,
    *,
    provider: TravelTimeProvider | None = None,
    rules: KpiRules = DEFAULT_RULES,
) -> RouteDay:
    """Planned vs actual of a route day (pure: same inputs, same figures).

    ``stops`` are the route's stops as they are now (after any edit), ``track`` the vehicle's
    fixes of the local day, ``events`` the stops' delivery events. On time is judged on the
    window as promised at dispatch (the frozen copy's) when the stop was in the plan.
    """
    planned = planned_figures(snapshot, costs, profile, provider)
    metres, drive_s, moving_from, moving_to = track_figures(track)
    service_s = service_seconds(events)
    ends = [s.completed_at for s in stops if s.completed_at is not None]
    route_s = 0.0
    if moving_from is not None:
        finish = max([moving_to or moving_from, *ends])
        route_s = (finish - moving_from).total_seconds()
    km = metres / 1000.0
    energy, co2e = energy_and_co2e(km, profile)
    seen = [s for s in stops if visited(s)]
    actual = Figures(
        distance_km=km,
        drive_h=drive_s / 3600.0,
        service_h=service_s / 3600.0,
        route_h=route_s / 3600.0,
        stops=len(seen),
        cost=costs.of(km, route_s / 3600.0),
        energy=energy,
        co2e_kg=co2e,
    )
    plan = {p.order_ref: p for p in snapshot.stops}
    judged = [_as_promised(s, plan.get(s.order_ref)) for s in stops]
    outcomes = tuple(
        StopOutcome(
            s.order_ref,
            plan[s.order_ref].planned_arrival if s.order_ref in plan else s.planned_arrival,
            s.arrival,
            verdict(j, now, rules),
            s.attempts,
            s.status,
            j.window_end,
            s.order_ref in plan,
        )
        for s, j in zip(stops, judged, strict=True)
    )
    on = sum(o.verdict is Verdict.ON_TIME for o in outcomes)
    refs = {s.order_ref for s in stops}
    return RouteDay(
        route_id=snapshot.route_id,
        vehicle_id=snapshot.vehicle_id,
        service_date=snapshot.service_date,
        plan_frozen=snapshot.frozen,
        planned=planned,
        actual=actual,
        on_time=Ratio(on, on + sum(o.verdict is Verdict.LATE for o in outcomes)),
        first_attempt=first_attempt(stops),
        done=sum(s.status == "done" for s in stops),
        failed=sum(s.status == "failed" for s in stops),
        skipped=sum(s.status == "skipped" for s in stops),
        added=len(refs - set(plan)),
        removed=len(set(plan) - refs),
        parcels_delivered=sum(
            max(s.demand, 0) for s in stops if s.status == "done" and s.kind == "delivery"
        ),
        energy_unit=profile.unit if profile else "",
        outcomes=outcomes,
    )


def _as_promised(stop: StopRecord, planned: PlannedStop | None) -> StopRecord:
    """The stop with the window it had at dispatch (a window widened later does not turn a
    late arrival into an on-time one)."""
    if planned is None:
        return stop
    return replace(stop, window_start=planned.window_start, window_end=planned.window_end)
