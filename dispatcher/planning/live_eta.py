"""Predicted arrivals at one vehicle's remaining stops, from where it is now.

The exception queue (at risk / late), one-click customer messages (the ETA in "running
late") and the KPI timeline (predicted marks) all ask this one question. Answering it in one
place keeps the ETA a dispatcher reads in the queue, in the message and on the timeline the
same: a one-vehicle plan evaluated by :func:`~dispatcher.planning.evaluate.evaluate_route`,
starting at the live position now, or at the depot (now, or at shift start if that is later)
before a first fix, and ending at the depot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.errors import ValidationError
from dispatcher.eta.travel import Location, TravelTimeProvider
from dispatcher.planning.evaluate import RouteEvaluation, evaluate_route
from dispatcher.planning.model import (
    Plan,
    PlanMatrix,
    PlanStop,
    PlanVehicle,
    from_plan_seconds,
    to_plan_seconds,
)

#: A shift without an end is taken as twelve hours long.
DEFAULT_SHIFT_S = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class LiveVehicle:
    """What the prediction needs of a vehicle: its shift, depot and live position."""

    id: str
    capacity: int
    shift_start: datetime
    shift_end: datetime | None
    depot: Location | None
    position: Location | None
    break_window: tuple[datetime, datetime] | None = None
    """Earliest and latest start of the driver's break (``None``: no break)."""
    break_s: float = 0.0
    vehicle_type: str = ""
    """Which road profile times it (a :class:`~dispatcher.eta.fleet_roads.FleetRoads`
    provider picks it; another provider times every type alike)."""


#: When the fleet setup gives no latest break start, the break may begin up to this many
#: minutes after it is due (the day plan's rule too).
BREAK_WINDOW_MIN = 60


def break_rule(
    shift_start: datetime, after_min: int | None, latest_min: int | None, minutes: int
) -> tuple[tuple[datetime, datetime] | None, float]:
    """A vehicle's break rule (fleet setup) as :class:`LiveVehicle`'s window and seconds:
    due ``after_min`` into the shift, to begin by ``latest_min`` (default an hour later)."""
    if after_min is None or after_min < 0 or minutes <= 0:
        return None, 0.0
    if latest_min is None or latest_min < after_min:
        latest_min = after_min + BREAK_WINDOW_MIN
    window = (
        shift_start + timedelta(minutes=after_min),
        shift_start + timedelta(minutes=latest_min),
    )
    return window, minutes * 60.0


def predict_route(
    vehicle: LiveVehicle,
    stops: Sequence[PlanStop],
    now: datetime,
    origin: datetime,
    provider: TravelTimeProvider,
) -> RouteEvaluation:
    """Evaluate ``stops`` in their order for ``vehicle`` from now; times are seconds since
    ``origin`` (local midnight). Raises :class:`ValidationError` when there is nothing to
    start from (no position and no depot) or the stops cannot be planned."""
    start = vehicle.position or vehicle.depot
    if start is None:
        raise ValidationError(f"vehicle {vehicle.id} has neither a position nor a depot")
    shift_start = to_plan_seconds(vehicle.shift_start, origin)
    shift_end = (
        to_plan_seconds(vehicle.shift_end, origin)
        if vehicle.shift_end is not None
        else shift_start + DEFAULT_SHIFT_S
    )
    now_s = to_plan_seconds(now, origin)
    plan_vehicle = PlanVehicle(
        vehicle.id,
        max(0, vehicle.capacity),
        shift_start,
        max(shift_start, shift_end),
        start,
        end=vehicle.depot,
        start_time=now_s if vehicle.position is not None or now_s > shift_start else None,
        break_window=None
        if vehicle.break_window is None
        else (
            to_plan_seconds(vehicle.break_window[0], origin),
            to_plan_seconds(vehicle.break_window[1], origin),
        ),
        break_s=vehicle.break_s if vehicle.break_window is not None else 0.0,
        vehicle_type=vehicle.vehicle_type,
    )
    ids = [s.id for s in stops]
    plan = Plan.build([plan_vehicle], list(stops), {plan_vehicle.id: ids})
    return evaluate_route(PlanMatrix.build(plan, provider), plan_vehicle, ids, plan)


def arrivals(evaluation: RouteEvaluation, origin: datetime) -> dict[str, datetime]:
    """Predicted arrival per stop id, as aware datetimes."""
    return {
        sid: from_plan_seconds(float(t), origin)
        for sid, t in zip(evaluation.stop_ids, evaluation.arrival, strict=True)
    }
