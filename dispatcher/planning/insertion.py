"""Urgent orders: where could this new stop go, and what would it cost?

Cheapest insertion with the evaluator: every (vehicle, position) is evaluated exactly
(time-dependent travel, windows, load), then ranked: no new lateness/overtime/overload first,
then least added lateness, then least added time. Positions that would shift a pinned stop or
go before the fixed prefix are not offered, a delivery is not offered to a vehicle already
on the road (its goods are at the depot), nor a stop to a vehicle without the skills it
needs. A place that would add any other violation of :mod:`dispatcher.planning.constraints`
(weight, volume, maximum duration, a late break, a pair split or delivered before its pickup)
is ranked after every clean one, with its reasons in :attr:`InsertionSuggestion.violations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.errors import ValidationError
from dispatcher.model.core import StopKind
from dispatcher.planning.constraints import (
    can_serve,
    pair_violations,
    schedule_violations,
)
from dispatcher.planning.evaluate import RouteEvaluation, evaluate_route
from dispatcher.planning.model import Plan, PlanMatrix, refusal


@dataclass(frozen=True, slots=True)
class InsertionSuggestion:
    """Putting the stop at ``index`` of ``vehicle_id``'s route (full route, done stops included)."""

    vehicle_id: str
    index: int
    added_duration: float
    added_distance: float
    added_lateness: float
    added_late_stops: int
    keeps_feasibility: bool
    evaluation: RouteEvaluation
    violations: tuple[str, ...] = ()

    @property
    def rank_key(self) -> tuple[bool, float, float]:
        return (not self.keeps_feasibility, self.added_lateness, self.added_duration)


def _first_free_index(plan: Plan, route: Sequence[str]) -> int:
    k = 0
    for i, sid in enumerate(route):
        stop = plan.stops[sid]
        if stop.is_fixed or stop.pinned:
            k = i + 1
    return k


def why_no_place(plan: Plan, stop_id: str) -> str:
    """The complete sentence for "no suggestion": which rule shut out which vehicles."""
    refused = [vid for vid in plan.vehicles if refusal(plan, vid, stop_id) is not None]
    head = f"No vehicle can take stop {stop_id}"
    stop = plan.stops[stop_id]
    if stop.skills and not any(can_serve(v, stop) for v in plan.vehicles.values()):
        return (
            f"{head}: it needs {', '.join(sorted(stop.skills))} and no vehicle has all of "
            "them. Give a vehicle those skills in the fleet setup, or change the order."
        )
    if plan.stops[stop_id].kind is StopKind.DELIVERY and refused:
        if len(refused) == len(plan.vehicles):
            return (
                f"{head} (a delivery) now: all {len(refused)} vehicles have left the depot "
                "and its goods are not on board. Plan it for a vehicle's next run from the "
                "depot, or leave it unassigned for tomorrow."
            )
        return (
            f"{head} (a delivery) now: {', '.join(refused)} have left the depot (its goods "
            "are not on board) and the others have no free place before their done or "
            "pinned stops."
        )
    return f"{head} now: every route is done or pinned up to its end."


def suggest_insertions(
    plan: Plan,
    pm: PlanMatrix,
    stop_id: str,
    limit: int = 5,
    vehicle_ids: Sequence[str] | None = None,
) -> list[InsertionSuggestion]:
    """Best ``limit`` places for ``stop_id`` (which must be in ``plan.stops`` and ``pm``)."""
    if stop_id not in plan.stops or stop_id not in pm.stop_node:
        raise ValidationError(f"unknown stop {stop_id}; add it to the plan and matrix first")
    out: list[InsertionSuggestion] = []
    for vid in vehicle_ids if vehicle_ids is not None else plan.vehicles:
        vehicle = plan.vehicles[vid]
        if refusal(plan, vid, stop_id) is not None or not can_serve(vehicle, plan.stops[stop_id]):
            continue
        route = [s for s in plan.routes[vid] if s != stop_id]
        base = evaluate_route(pm, vehicle, route, plan)
        known = set(schedule_violations(vid, base)) | set(pair_violations(plan, {vid: route}))
        for index in range(_first_free_index(plan, route), len(route) + 1):
            trial = [*route[:index], stop_id, *route[index:]]
            ev = evaluate_route(pm, vehicle, trial, plan)
            added = [
                v
                for v in schedule_violations(vid, ev) + pair_violations(plan, {vid: trial})
                if v not in known and "over capacity" not in v
            ]
            worse = (
                ev.late_stops > base.late_stops
                or ev.overtime > base.overtime + 1e-9
                or ev.overload > base.overload
                or bool(added)
            )
            out.append(
                InsertionSuggestion(
                    vid,
                    index,
                    ev.duration - base.duration,
                    ev.distance - base.distance,
                    ev.total_lateness - base.total_lateness,
                    ev.late_stops - base.late_stops,
                    not worse,
                    ev,
                    tuple(added),
                )
            )
    out.sort(key=lambda s: s.rank_key)
    return out[:limit]
