"""Storage of planned-vs-actual: frozen plans, vehicle-type factors, route-day figures.

* **Freezing.** A route is *dispatched* when the first delivery event naming one of its stops
  is stored (``arrived``, ``delivered``, ``failed``, …; the telemetry sink calls
  :func:`freeze_for_stop` in the same transaction). Its stops, windows, planned arrivals and
  depots are then copied into ``route_plans`` once (``INSERT … ON CONFLICT DO NOTHING``:
  two recorders racing store one copy) and never updated, so the comparison stays honest
  after the desk edits. A route never dispatched is compared with its current plan and
  flagged ``plan_frozen = false``.
* **A day's figures** (:func:`load_route_days`) are computed in Python by
  :func:`dispatcher.kpi.route_day.compute_route_day` — the function the hand-checked tests
  cover — from the day's stops, tracks and events (three reads plus the routes).
* **The rollup** (:func:`store_route_days`) keeps one row per route day in
  ``kpi_route_days``; the period query (:mod:`dispatcher.persistence.kpi_period_repo`) sums
  those rows in SQL.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatcher.model.kpi import StopRecord
from dispatcher.model.route_kpi import (
    EnergyProfile,
    Fix,
    PlannedStop,
    PlanSnapshot,
    RouteDayFacts,
    RouteInputs,
    StopEvent,
)
from dispatcher.model.users import Permission
from dispatcher.persistence import history_repo, kpi_repo
from dispatcher.persistence.orm import (
    AuditEntry,
    Depot,
    Route,
    RouteDayKpiRow,
    RoutePlanRow,
    Stop,
    Vehicle,
    VehicleEventRow,
    VehicleTypeRow,
)
from dispatcher.persistence.users_repo import acting_user

_EVENT_KINDS = ("arrived", "delivered", "picked_up", "failed", "departed")
#: Side of an "area" square in degrees (0.1° ≈ 11 km north-south).
AREA_DEG = 0.1


# --- vehicle types -------------------------------------------------------------------------


def load_profiles(session: Session) -> dict[str, EnergyProfile]:
    """The stored vehicle types by name (types without a row use the defaults)."""
    return {
        row.name: EnergyProfile(
            row.name,
            row.energy,
            row.energy_per_km,
            row.co2e_kg_per_unit,
            row.factor_source,
            row.fixed_cost_per_route,
        )
        for row in session.scalars(select(VehicleTypeRow))
    }


def save_vehicle_type(session: Session, actor: str, profile: EnergyProfile) -> dict[str, Any]:
    """Create or replace a vehicle type for ``actor`` (fleet-setup permission), audited."""
    acting_user(session, actor, Permission.FLEET_SETUP)
    stored = load_profiles(session).get(profile.vehicle_type)
    save_profile(session, profile)
    session.add(
        AuditEntry(
            actor=actor,
            action="vehicle_type.edit" if stored else "vehicle_type.create",
            entity="vehicle_type",
            entity_id=profile.vehicle_type,
            before=profile_record(stored) if stored else None,
            after=profile_record(profile),
        )
    )
    return profile_record(profile)


def profile_record(profile: EnergyProfile) -> dict[str, Any]:
    """A vehicle type as the fleet setup lists it (the form's field names)."""
    return {
        "name": profile.vehicle_type,
        "energy": profile.energy,
        "energy_per_km": profile.energy_per_km,
        "co2e_kg_per_unit": profile.co2e_per_unit,
        "factor_source": profile.source,
        "fixed_cost_per_route": profile.fixed_cost_per_route,
    }


def vehicle_types_in_use(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(Vehicle.vehicle_type).distinct())))


def vehicle_type_by_id(session: Session) -> dict[str, str]:
    """Each vehicle's type by id (the simulator drives a type's road profile)."""
    rows = session.execute(select(Vehicle.id, Vehicle.vehicle_type))
    return {row.id: row.vehicle_type for row in rows}


def save_profile(session: Session, profile: EnergyProfile) -> None:
    """Create or replace a vehicle type's factors and fixed cost."""
    row = session.get(VehicleTypeRow, profile.vehicle_type) or VehicleTypeRow(
        name=profile.vehicle_type
    )
    row.energy = profile.energy
    row.energy_per_km = profile.energy_per_km
    row.co2e_kg_per_unit = profile.co2e_per_unit
    row.factor_source = profile.source
    row.fixed_cost_per_route = profile.fixed_cost_per_route
    session.add(row)


# --- freezing the plan at dispatch ---------------------------------------------------------


def freeze_for_stop(
    session: Session, order_ref: str, ts: datetime, trigger: str, vehicle_id: str | None = None
) -> bool:
    """Freeze the plan of the route holding ``order_ref`` if it is not frozen yet.

    With ``vehicle_id`` (the vehicle that reported the event), only when the stop is on that
    vehicle's route: a device reporting on another vehicle's stop — by mistake or lying about
    who it is — does not dispatch that vehicle's route. Returns ``True`` when this call stored
    the copy. One read when already frozen.
    """
    row = session.execute(
        select(Stop.route_id, Route.vehicle_id, RoutePlanRow.route_id)
        .join(Route, Route.id == Stop.route_id)
        .outerjoin(RoutePlanRow, RoutePlanRow.route_id == Stop.route_id)
        .where(Stop.order_ref == order_ref)
    ).first()
    if row is None or row[2] is not None:
        return False
    if vehicle_id is not None and row[1] != vehicle_id:
        return False
    return freeze_route(session, int(row[0]), ts, trigger)


def freeze_route(session: Session, route_id: int, ts: datetime, trigger: str) -> bool:
    """Store the route's plan as it stands now (once; a later call changes nothing)."""
    route = session.get(Route, route_id)
    if route is None:
        return False
    snapshot = current_plan(session, route)
    values = {
        "route_id": route_id,
        "vehicle_id": route.vehicle_id,
        "service_date": route.service_date,
        "frozen_at": ts.astimezone(UTC),
        "trigger": trigger[:24],
        "plan": plan_to_json(snapshot),
    }
    dialect = session.get_bind().dialect.name
    insert_ignore = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert_ignore(RoutePlanRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["route_id"])
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]  # CursorResult


def current_plan(session: Session, route: Route) -> PlanSnapshot:
    """The route's plan as it is now (flagged ``live``: not a frozen copy)."""
    return current_plans(session, [route])[route.id]


#: Routes per ``IN (...)`` of :func:`current_plans` (well under SQLite's bound parameters).
PLAN_BATCH = 500


def current_plans(session: Session, routes: Sequence[Route]) -> dict[int, PlanSnapshot]:
    """Each route's plan as it is now, by route id: a few queries for any number of routes.

    A day's KPI load asked :func:`current_plan` once per route not yet frozen: at 500
    vehicles that was 500 stop queries (and as many vehicle and depot look-ups) in the
    loading worker. Here the stops of :data:`PLAN_BATCH` routes come in one query, read as
    columns, and the vehicles and depots in one query each.
    """
    if not routes:
        return {}
    ids = [r.id for r in routes]
    stops: dict[int, list[PlannedStop]] = {rid: [] for rid in ids}
    for first in range(0, len(ids), PLAN_BATCH):
        rows = session.execute(
            select(
                Stop.route_id,
                Stop.order_ref,
                Stop.sequence,
                Stop.lat,
                Stop.lon,
                Stop.planned_arrival,
                Stop.window_start,
                Stop.window_end,
                Stop.service_s,
                Stop.demand,
                Stop.kind,
            )
            .where(Stop.route_id.in_(ids[first : first + PLAN_BATCH]))
            .order_by(Stop.route_id, Stop.sequence, Stop.id)
        )
        for rid, ref, seq, lat, lon, planned, ws, we, service_s, demand, kind in rows:
            of_route = stops[rid]  # type: ignore[index]  # IN (ids): never NULL here
            number = seq if seq is not None else len(of_route) + 1
            of_route.append(
                PlannedStop(ref, number, lat, lon, planned, ws, we, service_s, demand, kind)
            )
    vehicle_ids = sorted({r.vehicle_id for r in routes if r.vehicle_id})
    vehicles = {
        vid: (start, end)
        for vid, start, end in session.execute(
            select(Vehicle.id, Vehicle.depot_id, Vehicle.end_depot_id).where(
                Vehicle.id.in_(vehicle_ids)
            )
        )
    }
    depot_ids = sorted({d for pair in vehicles.values() for d in pair if d})
    depots = {
        did: (lat, lon)
        for did, lat, lon in session.execute(
            select(Depot.id, Depot.lat, Depot.lon).where(Depot.id.in_(depot_ids))
        )
    }
    plans = {}
    for route in routes:
        start_id, end_id = vehicles.get(route.vehicle_id, (None, None))
        plans[route.id] = PlanSnapshot(
            route.id,
            route.vehicle_id,
            route.service_date,
            None,
            "live",
            tuple(stops[route.id]),
            depots.get(start_id) if start_id else None,
            depots.get(end_id) if end_id else None,
        )
    return plans


def plan_to_json(plan: PlanSnapshot) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "depot": list(plan.depot) if plan.depot else None,
        "end_depot": list(plan.end_depot) if plan.end_depot else None,
        "stops": [
            {
                "ref": s.order_ref,
                "seq": s.sequence,
                "lat": s.lat,
                "lon": s.lon,
                "planned": when(s.planned_arrival),
                "ws": when(s.window_start),
                "we": when(s.window_end),
                "service_s": s.service_s,
                "demand": s.demand,
                "kind": s.kind,
            }
            for s in plan.stops
        ],
    }


def plan_from_row(row: RoutePlanRow) -> PlanSnapshot:
    """The stored copy back as a :class:`PlanSnapshot`."""

    def when(value: object) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None

    def point(value: object) -> tuple[float, float] | None:
        return (float(value[0]), float(value[1])) if isinstance(value, list) else None

    data = row.plan or {}
    stops = tuple(
        PlannedStop(
            str(s["ref"]),
            int(s["seq"]),
            float(s["lat"]),
            float(s["lon"]),
            when(s.get("planned")),
            when(s.get("ws")),
            when(s.get("we")),
            int(s.get("service_s", 0)),
            int(s.get("demand", 1)),
            str(s.get("kind", "delivery")),
        )
        for s in data.get("stops", [])
    )
    return PlanSnapshot(
        row.route_id,
        row.vehicle_id,
        row.service_date,
        row.frozen_at,
        row.trigger,
        stops,
        point(data.get("depot")),
        point(data.get("end_depot")),
    )


# --- a day's figures -----------------------------------------------------------------------


def load_route_inputs(session: Session, day: date, tz: tzinfo) -> list[RouteInputs]:
    """What every route of ``day`` (the fleet's local day in ``tz``) is measured from: the
    frozen plan (else the current one), the stops now, the vehicle's fixes of the local day,
    the stops' delivery events, the vehicle's type and rates."""
    records = kpi_repo.load_day(session, tz, day)
    routes = session.scalars(
        select(Route).where(Route.service_date == day).order_by(Route.vehicle_id)
    ).all()
    if not routes:
        return []
    frozen = {
        r.route_id: plan_from_row(r)
        for r in session.scalars(select(RoutePlanRow).where(RoutePlanRow.service_date == day))
    }
    vehicles = {v.id: v for v in session.scalars(select(Vehicle))}
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    tracks: dict[str, list[Fix]] = {}
    for vid, ts, lat, lon, _speed, _heading in history_repo.positions_between(
        session, start.astimezone(UTC), (end - timedelta(microseconds=1)).astimezone(UTC)
    ):
        tracks.setdefault(vid, []).append(Fix(ts, lat, lon))
    events: dict[str, list[StopEvent]] = {}
    for event in _events(session, day):
        events.setdefault(event.order_ref, []).append(event)
    stops_of: dict[str | None, list[StopRecord]] = {}
    for stop in records.stops:
        stops_of.setdefault(stop.vehicle_id, []).append(stop)
    live = current_plans(session, [r for r in routes if r.id not in frozen])
    found = []
    for route in routes:
        vehicle = vehicles.get(route.vehicle_id)
        stops = tuple(stops_of.get(route.vehicle_id, ()))
        found.append(
            RouteInputs(
                plan=frozen.get(route.id) or live[route.id],
                stops=stops,
                track=tuple(tracks.get(route.vehicle_id, ())),
                events=tuple(e for s in stops for e in events.get(s.order_ref, ())),
                vehicle_type=vehicle.vehicle_type if vehicle else "",
                cost_per_km=vehicle.cost_per_km if vehicle else 0.0,
                cost_per_hour=vehicle.cost_per_hour if vehicle else 0.0,
                fixed_cost=(vehicle.fixed_cost or 0.0) if vehicle else 0.0,
                driver_id=(vehicle.driver_id if vehicle else None) or "",
                depot_id=(vehicle.depot_id if vehicle else None) or "",
                area=area_of((s.lat, s.lon) for s in stops),
            )
        )
    return found


def _events(session: Session, day: date) -> list[StopEvent]:
    rows = session.execute(
        select(VehicleEventRow.stop_ref, VehicleEventRow.kind, VehicleEventRow.ts)
        .join(Stop, Stop.order_ref == VehicleEventRow.stop_ref)
        .where(Stop.service_date == day, VehicleEventRow.kind.in_(_EVENT_KINDS))
    )
    return [StopEvent(ref, kind, ts) for ref, kind, ts in rows if ref]


def area_of(points: Iterable[tuple[float, float]]) -> str:
    """The route's area: the :data:`AREA_DEG` square holding most of its stops, named by its
    south-west corner (``52.5,13.3``); ties go to the smallest name; no stops, ``""``."""
    cells = Counter(
        f"{math.floor(lat / AREA_DEG) * AREA_DEG:.1f},{math.floor(lon / AREA_DEG) * AREA_DEG:.1f}"
        for lat, lon in points
    )
    if not cells:
        return ""
    best = max(cells.values())
    return min(k for k, n in cells.items() if n == best)


def store_route_days(session: Session, day: date, rows: Sequence[RouteDayFacts]) -> int:
    """Replace the stored figures of ``day`` with ``rows`` (a recomputed day)."""
    session.execute(delete(RouteDayKpiRow).where(RouteDayKpiRow.service_date == day))
    if rows:
        session.execute(insert(RouteDayKpiRow), [{**asdict(r), "service_date": day} for r in rows])
    return len(rows)


def stored_days(session: Session, start: date, end: date) -> set[date]:
    """Days in ``[start, end]`` that already have stored figures."""
    return set(
        session.scalars(
            select(RouteDayKpiRow.service_date)
            .where(RouteDayKpiRow.service_date.between(start, end))
            .distinct()
        )
    )


def stale_days(session: Session, start: date, end: date) -> set[date]:
    """Stored days in ``[start, end]`` with a delivery event received after they were
    computed (a device's buffered events arriving late): their figures are out of date."""
    computed = dict(
        session.execute(
            select(RouteDayKpiRow.service_date, func.min(RouteDayKpiRow.computed_at))
            .where(RouteDayKpiRow.service_date.between(start, end))
            .group_by(RouteDayKpiRow.service_date)
        ).all()
    )
    if not computed:
        return set()
    received = session.execute(
        select(Stop.service_date, func.max(VehicleEventRow.received_at))
        .join(VehicleEventRow, VehicleEventRow.stop_ref == Stop.order_ref)
        .where(Stop.service_date.between(start, end))
        .group_by(Stop.service_date)
    ).all()
    return {
        day
        for day, last in received
        if day in computed and last is not None and _utc(last) > _utc(computed[day])
    }


def _utc(value: object) -> datetime:
    """``min``/``max`` bypass the column type on SQLite (text back): parse and mark UTC."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(when, datetime)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def days_with_routes(session: Session, start: date, end: date) -> list[date]:
    return sorted(
        session.scalars(
            select(Route.service_date).where(Route.service_date.between(start, end)).distinct()
        )
    )
