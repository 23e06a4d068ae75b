"""The constraints of a real fleet, stated once and checked the same way by every path.

What a plan must honour besides windows, shifts and the count capacity
(:mod:`dispatcher.planning.evaluate` computes the schedule-dependent ones):

- **skills**: a stop's ``skills`` are a subset of its vehicle's (a refrigerated order on a
  van with ``cold``);
- **paired pickup and delivery**: the two stops sharing a ``pair`` key go on one vehicle,
  the pickup first; the goods ride only between them;
- **capacity dimensions**: count (``demand``/``capacity``), weight (kg) and volume (litres),
  each checked along the route as the load changes;
- **maximum route duration** (leaving to coming back, waiting and break included);
- **driver break**: ``break_s`` seconds starting within the vehicle's ``break_window``; the
  evaluator places it (the rule in :func:`dispatcher.planning.evaluate._with_break`) and a
  break that cannot start in time is a violation;
- **costs** (``fixed_cost``, ``cost_per_km``, ``cost_per_hour``) are not a constraint but the
  objective (:mod:`dispatcher.planning.costs`).

:func:`route_violations` and :func:`plan_violations` say in words what a route or a plan
breaks; :func:`move_violations` is what a drag on the route board and an insertion ask: what
*new* violation would this change bring (:func:`placement_violations`: what a stop already put
on a route brought). The optimizer hands the same rules to its engines
(:func:`dispatcher.planning.optimize.build_model`) and checks their answer with these
functions, so a solver is never trusted blindly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatcher.model.core import StopKind
from dispatcher.planning.evaluate import RouteEvaluation, evaluate_route
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle


def missing_skills(vehicle: PlanVehicle, stop: PlanStop) -> frozenset[str]:
    """The skills ``stop`` needs that ``vehicle`` lacks (empty: it may serve it)."""
    return stop.skills - vehicle.skills


def can_serve(vehicle: PlanVehicle, stop: PlanStop) -> bool:
    """Whether ``vehicle`` has every skill ``stop`` needs."""
    return not missing_skills(vehicle, stop)


def pairs_of(plan: Plan) -> dict[str, tuple[str | None, str | None]]:
    """Each pair key with its pickup and its delivery stop ids (``None`` where missing)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for sid, stop in plan.stops.items():
        if stop.pair is None:
            continue
        pick, drop = out.get(stop.pair, (None, None))
        if stop.kind is StopKind.PICKUP:
            pick = sid
        else:
            drop = sid
        out[stop.pair] = (pick, drop)
    return out


def schedule_violations(vehicle_id: str, ev: RouteEvaluation) -> list[str]:
    """The constraint violations an evaluation shows, in words (lateness and overtime are
    the boards' own columns and left out here)."""
    out = []
    if ev.overload > 0:
        out.append(f"{vehicle_id}: over capacity by {ev.overload:g}")
    if ev.weight_overload > 0:
        out.append(f"{vehicle_id}: {ev.weight_overload:g} kg over its weight limit")
    if ev.volume_overload > 0:
        out.append(f"{vehicle_id}: {ev.volume_overload:g} l over its volume limit")
    if ev.over_duration > 1e-9:
        out.append(f"{vehicle_id}: route {ev.over_duration / 60:.0f} min over its maximum")
    if ev.break_late > 1e-9:
        out.append(f"{vehicle_id}: break starts {ev.break_late / 60:.0f} min after its window")
    return out


def route_violations(
    plan: Plan,
    pm: PlanMatrix,
    vehicle_id: str,
    route: Sequence[str],
    ev: RouteEvaluation | None = None,
) -> list[str]:
    """What ``route`` on ``vehicle_id`` breaks by itself: skills, pair order on the route,
    capacities, maximum duration and the break."""
    vehicle = plan.vehicles[vehicle_id]
    out = []
    for sid in route:
        lacking = missing_skills(vehicle, plan.stops[sid])
        if lacking:
            out.append(f"{vehicle_id} lacks {', '.join(sorted(lacking))} for stop {sid}")
    ev = ev if ev is not None else evaluate_route(pm, vehicle, route, plan)
    return out + schedule_violations(vehicle_id, ev)


def pair_violations(plan: Plan, routes: Mapping[str, Sequence[str]]) -> list[str]:
    """Pairs split across vehicles, half planned, or delivered before they are picked up.

    ``routes`` overrides the plan's routes for the vehicles it names.
    """
    merged = {vid: list(r) for vid, r in plan.routes.items()}
    merged.update({vid: list(r) for vid, r in routes.items()})
    where = {sid: (vid, i) for vid, r in merged.items() for i, sid in enumerate(r)}
    out = []
    for key, (pick, drop) in pairs_of(plan).items():
        if pick is None or drop is None:
            continue  # half a pair (the other order is another day): nothing to pair
        a, b = where.get(pick), where.get(drop)
        if a is None and b is None:
            continue
        if a is None or b is None:
            out.append(f"pair {key}: only one of its pickup and delivery is planned")
        elif a[0] != b[0]:
            out.append(f"pair {key}: pickup on {a[0]}, delivery on {b[0]}")
        elif a[1] > b[1]:
            out.append(f"pair {key}: delivered on {a[0]} before it is picked up")
    return out


def structural_violations(plan: Plan, routes: Mapping[str, Sequence[str]]) -> list[str]:
    """Skills and pairs only (no schedule): what no solver answer may ever break."""
    merged = {vid: list(r) for vid, r in plan.routes.items()}
    merged.update({vid: list(r) for vid, r in routes.items()})
    out = []
    for vid, route in merged.items():
        vehicle = plan.vehicles[vid]
        for sid in route:
            lacking = missing_skills(vehicle, plan.stops[sid])
            if lacking:
                out.append(f"{vid} lacks {', '.join(sorted(lacking))} for stop {sid}")
    return out + pair_violations(plan, merged)


def plan_violations(
    plan: Plan, pm: PlanMatrix, routes: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Every constraint violation of the plan (``routes`` overriding some of its routes)."""
    merged = {vid: list(r) for vid, r in plan.routes.items()}
    merged.update({vid: list(r) for vid, r in (routes or {}).items()})
    out = []
    for vid, route in merged.items():
        out += route_violations(plan, pm, vid, route)
    return out + pair_violations(plan, merged)


def move_violations(
    plan: Plan, pm: PlanMatrix, stop_ids: Sequence[str], target: str | None, index: int
) -> list[str]:
    """The violations that putting ``stop_ids`` at ``index`` of ``target``'s route (a row of
    the route without them) would add: what the board shows before a drop, a keyboard move or
    *Move stops to vehicle* is confirmed, and what an insertion may not bring. ``target``
    ``None`` unassigns them (which may leave half a pair planned). Existing violations are
    not repeated."""
    if target is not None and target not in plan.routes:
        return []
    moved = set(stop_ids)
    touched = {v for s in stop_ids if (v := plan.vehicle_of(s)) is not None}
    if target is not None:
        touched.add(target)
    after: dict[str, list[str]] = {}
    for vid in touched:
        rest = [s for s in plan.routes[vid] if s not in moved]
        if vid == target:
            k = max(0, min(index, len(rest)))
            rest = rest[:k] + list(stop_ids) + rest[k:]
        after[vid] = rest
    before = set()
    for vid in touched:
        before.update(route_violations(plan, pm, vid, plan.routes[vid]))
    before.update(pair_violations(plan, {}))
    now = [v for vid in touched for v in route_violations(plan, pm, vid, after[vid])]
    now += pair_violations(plan, after)
    return [v for v in dict.fromkeys(now) if v not in before]


def placement_violations(plan: Plan, pm: PlanMatrix, stop_id: str) -> list[str]:
    """What ``stop_id``, where it is now, breaks that its route would not without it: the
    check for a stop placed on a route by another path than a move (a new order or an import
    naming its vehicle), the same :func:`move_violations` a move asks before it is made."""
    vid = plan.vehicle_of(stop_id)
    if vid is None:
        return []
    route = plan.routes[vid]
    without = plan.copy()
    without.routes[vid] = [s for s in route if s != stop_id]
    without.unassigned.append(stop_id)
    return move_violations(without, pm, [stop_id], vid, route.index(stop_id))
