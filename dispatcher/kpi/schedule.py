"""Planned and predicted arrivals from the planning evaluator, for the charts and the timeline.

*Planned* is what the plan promised: the stop's stored planned arrival, or — when none was
stored — the evaluation of the vehicle's whole route from its depot at shift start (leaving
as late as the first stop's window allows, as the route boards show it).
*Predicted* is what will happen now: the evaluation of the stops not yet reached from the
vehicle's live position at ``now``. Times go through plan seconds (seconds since local
midnight of the service day), the planning package's convention.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from dispatcher.errors import DispatcherError
from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.model.core import StopKind
from dispatcher.model.kpi import DayRecords, StopRecord, VehicleRecord, by_vehicle
from dispatcher.planning import (
    PlanStop,
    to_plan_seconds,
)
from dispatcher.planning.live_eta import LiveVehicle, arrivals, break_rule, predict_route
from dispatcher.planning.model import INF, from_plan_seconds

log = logging.getLogger(__name__)

LatLon = tuple[float, float]


def planned_arrivals(
    records: DayRecords, provider: TravelTimeProvider | None = None
) -> dict[int, datetime]:
    """Arrival per stop id as the plan has it (stored, else evaluated from the depot)."""
    provider = provider or HaversineProvider()
    origin = records.midnight()
    vehicles = {v.id: v for v in records.vehicles}
    found: dict[int, datetime] = {}
    for vehicle_id, stops in by_vehicle(records.stops).items():
        found.update({s.id: s.planned_arrival for s in stops if s.planned_arrival is not None})
        if all(s.planned_arrival is not None for s in stops) or vehicle_id not in vehicles:
            continue
        vehicle = vehicles[vehicle_id]
        # From the depot at shift start: "now" is midnight, before any shift begins.
        depot = _depot(vehicle) or (stops[0].lat, stops[0].lon)
        live = _live(vehicle_id, vehicle, origin, depot, None)
        evaluated = _evaluate(live, stops, origin, origin, provider)
        for stop_id, when in evaluated.items():
            found.setdefault(stop_id, when)
    return found


def predicted_arrivals(
    records: DayRecords,
    positions: Mapping[str, LatLon],
    now: datetime,
    provider: TravelTimeProvider | None = None,
) -> dict[int, datetime]:
    """Arrival per not-yet-reached stop of each vehicle with a live position.

    A stop is not yet reached when it has no arrival and is not final. Vehicles without a
    live position get no prediction (the timeline then shows the planned arrival).
    """
    provider = provider or HaversineProvider()
    origin = records.midnight()
    vehicles = {v.id: v for v in records.vehicles}
    found: dict[int, datetime] = {}
    for vehicle_id, stops in by_vehicle(records.stops).items():
        position = positions.get(vehicle_id)
        ahead = [s for s in stops if s.arrival is None and not s.is_final]
        if position is None or not ahead:
            continue
        vehicle = vehicles.get(vehicle_id)
        depot = _depot(vehicle) if vehicle else None
        live = _live(vehicle_id, vehicle, origin, depot, position)
        found.update(_evaluate(live, ahead, now, origin, provider))
    return found


def _live(
    vehicle_id: str,
    vehicle: VehicleRecord | None,
    origin: datetime,
    depot: LatLon | None,
    position: LatLon | None,
) -> LiveVehicle:
    """The prediction's view of a vehicle (an unknown one: a day-long shift from midnight)."""
    if vehicle is None:
        return LiveVehicle(vehicle_id, 0, origin, None, depot, position)
    day, tz = origin.date(), origin.tzinfo
    start = datetime.combine(day, vehicle.shift_start, tz)
    window, break_s = break_rule(
        start, vehicle.break_after_min, vehicle.break_latest_min, vehicle.break_min
    )
    return LiveVehicle(
        vehicle_id,
        vehicle.capacity,
        start,
        datetime.combine(day, vehicle.shift_end, tz),
        depot,
        position,
        window,
        break_s,
        vehicle.vehicle_type,
    )


def planned_breaks(
    records: DayRecords, provider: TravelTimeProvider | None = None
) -> dict[str, tuple[datetime, datetime]]:
    """When each driver's break falls in the plan: the route evaluated from the depot at
    shift start, the break placed by the evaluator's rule (docs/planning.md, "Constraints")."""
    provider = provider or HaversineProvider()
    origin = records.midnight()
    vehicles = {v.id: v for v in records.vehicles}
    found: dict[str, tuple[datetime, datetime]] = {}
    for vehicle_id, stops in by_vehicle(records.stops).items():
        vehicle = vehicles.get(vehicle_id)
        if vehicle is None or not vehicle.break_min or vehicle.break_after_min is None:
            continue
        depot = _depot(vehicle) or (stops[0].lat, stops[0].lon)
        live = _live(vehicle_id, vehicle, origin, depot, None)
        try:
            evaluation = predict_route(
                live, [_plan_stop(s, origin) for s in stops], origin, origin, provider
            )
        except DispatcherError as exc:
            log.warning("cannot place the break of %s: %s", vehicle_id, exc)
            continue
        if evaluation.break_start is not None:
            begin = from_plan_seconds(evaluation.break_start, origin)
            found[vehicle_id] = (begin, begin + timedelta(minutes=vehicle.break_min))
    return found


def _evaluate(
    vehicle: LiveVehicle,
    stops: Sequence[StopRecord],
    now: datetime,
    origin: datetime,
    provider: TravelTimeProvider,
) -> dict[int, datetime]:
    """Predict ``stops`` in order for ``vehicle``; a bad route is logged and left out."""
    try:
        plan_stops = [_plan_stop(s, origin) for s in stops]
        evaluation = predict_route(vehicle, plan_stops, now, origin, provider)
    except DispatcherError as exc:
        log.warning("cannot evaluate the route of %s: %s", vehicle.id, exc)
        return {}
    return {int(sid): when for sid, when in arrivals(evaluation, origin).items()}


def _plan_stop(stop: StopRecord, origin: datetime) -> PlanStop:
    start = to_plan_seconds(stop.window_start, origin) if stop.window_start else 0.0
    end = to_plan_seconds(stop.window_end, origin) if stop.window_end else INF
    return PlanStop(
        id=str(stop.id),
        location=(stop.lat, stop.lon),
        window_start=min(start, end),
        window_end=end,
        service_s=max(float(stop.service_s), 0.0),
        demand=max(stop.demand, 0),
        kind=StopKind.PICKUP if stop.kind == "pickup" else StopKind.DELIVERY,
    )


def _depot(vehicle: VehicleRecord) -> LatLon | None:
    if vehicle.depot_lat is None or vehicle.depot_lon is None:
        return None
    return (vehicle.depot_lat, vehicle.depot_lon)
