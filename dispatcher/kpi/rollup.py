"""A day's planned-vs-actual for every route, and the stored rollup the period view sums.

:func:`route_days` reads a day and computes each route with
:func:`~dispatcher.kpi.route_day.compute_route_day`; :func:`rollup_days` stores finished days
in ``kpi_route_days`` (once per day: a day is finished when the fleet's local day is over,
and the figures of a stored day are not recomputed unless asked). Both run off the GUI
thread; they open their own sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from dispatcher import display
from dispatcher.eta.fleet_roads import pick
from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.kpi.emissions import profile_for
from dispatcher.kpi.route_day import RouteDay, compute_route_day
from dispatcher.model.route_kpi import EnergyProfile, RouteDayFacts, RouteInputs, VehicleCosts
from dispatcher.persistence import route_kpi_repo
from dispatcher.persistence.database import Database


@dataclass(frozen=True, slots=True)
class RouteDayResult:
    """A computed route day and the keys the period view groups it by."""

    day: RouteDay
    inputs: RouteInputs

    def facts(self) -> RouteDayFacts:
        return to_facts(self.day, self.inputs)

    def line(self) -> str:
        """The route board's line: actual against planned distance, cost and CO₂e, in the
        fleet's units and number format (as the board's own totals)."""
        d, show = self.day, display.current()
        return (
            f"{show.distance(d.actual.distance_km * 1000)} driven "
            f"(plan {show.distance_figure(d.planned.distance_km * 1000)}) · "
            f"cost {show.number(d.actual.cost, 2)} (plan {show.number(d.planned.cost, 2)}) · "
            f"{show.number(d.actual.co2e_kg, 1)} kg CO2e"
        )


def compute(
    inputs: Iterable[RouteInputs],
    profiles: dict[str, EnergyProfile],
    now: datetime,
    provider: TravelTimeProvider | None = None,
) -> list[RouteDayResult]:
    """Each route's figures; the vehicle type's stored profile, else the default one.

    The fixed cost is the vehicle's own when the fleet setup gives one (the same figure the
    optimizer weighs when it decides whether to use the vehicle), else its type's.
    """
    found = []
    for item in inputs:
        profile = profile_for(item.vehicle_type, profiles)
        type_fixed = profile.fixed_cost_per_route if profile else 0.0
        costs = VehicleCosts(
            item.fixed_cost or type_fixed,
            item.cost_per_km,
            item.cost_per_hour,
        )
        day = compute_route_day(
            item.plan,
            item.stops,
            item.track,
            item.events,
            costs,
            profile,
            now,
            provider=None if provider is None else pick(provider, item.vehicle_type),
        )
        found.append(RouteDayResult(day, item))
    return found


def route_days(
    db: Database,
    day: date,
    tz: tzinfo,
    now: datetime,
    provider: TravelTimeProvider | None = None,
) -> list[RouteDayResult]:
    """Planned vs actual of every route of ``day`` as it stands at ``now``."""
    with db.session() as session:
        inputs = route_kpi_repo.load_route_inputs(session, day, tz)
        profiles = route_kpi_repo.load_profiles(session)
    return compute(inputs, profiles, now, provider)


def rollup_days(
    db: Database,
    days: Iterable[date],
    tz: tzinfo,
    now: datetime,
    provider: TravelTimeProvider | None = None,
) -> int:
    """Compute and store each of ``days`` (replacing what was stored); returns the rows."""
    stored = 0
    for day in days:
        results = route_days(db, day, tz, now, provider)
        with db.session() as session:
            stored += route_kpi_repo.store_route_days(session, day, [r.facts() for r in results])
    return stored


def to_facts(day: RouteDay, inputs: RouteInputs) -> RouteDayFacts:
    return RouteDayFacts(
        service_date=day.service_date,
        vehicle_id=day.vehicle_id,
        route_id=day.route_id,
        driver_id=inputs.driver_id,
        depot_id=inputs.depot_id,
        area=inputs.area,
        plan_frozen=day.plan_frozen,
        planned_km=day.planned.distance_km,
        planned_drive_h=day.planned.drive_h,
        planned_service_h=day.planned.service_h,
        planned_route_h=day.planned.route_h,
        planned_stops=day.planned.stops,
        planned_cost=day.planned.cost,
        planned_co2e_kg=day.planned.co2e_kg,
        actual_km=day.actual.distance_km,
        drive_h=day.actual.drive_h,
        service_h=day.actual.service_h,
        route_h=day.actual.route_h,
        stops_visited=day.actual.stops,
        cost=day.actual.cost,
        energy=day.actual.energy,
        energy_unit=day.energy_unit,
        co2e_kg=day.actual.co2e_kg,
        on_time_hits=day.on_time.hits,
        on_time_total=day.on_time.total,
        first_attempt_hits=day.first_attempt.hits,
        first_attempt_total=day.first_attempt.total,
        done=day.done,
        failed=day.failed,
        skipped=day.skipped,
        added=day.added,
        removed=day.removed,
        parcels=day.parcels_delivered,
    )


@dataclass(frozen=True, slots=True)
class CostSummary:
    """Planned vs actual distance, cost and CO₂e of some routes of a day (a KPI scope)."""

    routes: int
    planned_km: float
    actual_km: float
    planned_cost: float
    cost: float
    co2e_kg: float
    parcels: int

    @property
    def cost_per_parcel(self) -> float | None:
        return self.cost / self.parcels if self.parcels else None

    def text(self) -> str:
        """One line for the KPI dock (money without a currency: the fleet's own), in the
        fleet's units and number format."""
        per, show = self.cost_per_parcel, display.current()
        parts = [
            f"{show.distance(self.actual_km * 1000)} driven "
            f"(planned {show.distance_figure(self.planned_km * 1000)})",
            f"cost {show.number(self.cost, 2)} (planned {show.number(self.planned_cost, 2)})",
        ]
        if per is not None:
            parts.append(f"{show.number(per, 2)} per parcel")
        parts.append(f"{show.number(self.co2e_kg, 1)} kg CO2e")
        return " · ".join(parts)


def summarize(
    results: Iterable[RouteDayResult], vehicle_id: str | None = None, driver_id: str | None = None
) -> CostSummary | None:
    """Sum the routes of one vehicle, one driver, or all (``None`` when there are none)."""
    chosen = [
        r
        for r in results
        if (vehicle_id is None or r.day.vehicle_id == vehicle_id)
        and (driver_id is None or r.inputs.driver_id == driver_id)
    ]
    if not chosen:
        return None
    return CostSummary(
        routes=len(chosen),
        planned_km=sum(r.day.planned.distance_km for r in chosen),
        actual_km=sum(r.day.actual.distance_km for r in chosen),
        planned_cost=sum(r.day.planned.cost for r in chosen),
        cost=sum(r.day.actual.cost for r in chosen),
        co2e_kg=sum(r.day.actual.co2e_kg for r in chosen),
        parcels=sum(r.day.parcels_delivered for r in chosen),
    )
