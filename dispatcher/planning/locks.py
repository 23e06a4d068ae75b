"""Lock semantics, stated once and checked on any proposed routes.

- Done/failed/skipped stops and the in-progress (``ARRIVED``) stop are the fixed prefix of
  their route: same stops, same order, same vehicle.
- ``pinned``: the stop keeps its vehicle and its index in the route.
- ``order_group``: stops sharing a group stay together on one vehicle, in their current
  relative order (other stops may come between them).
- ``keep_vehicle``: the stop stays on its current vehicle; its position is free.

The optimizer encodes these as constraints; :func:`lock_violations` checks any result so a
preview can prove it honours them (and tests can check the solver, not trust it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatcher.planning.model import Plan


def _positions(routes: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, int]]:
    return {sid: (vid, i) for vid, route in routes.items() for i, sid in enumerate(route)}


def group_members(plan: Plan) -> dict[str, list[str]]:
    """Order groups with their members in current route order (assigned stops only)."""
    groups: dict[str, list[str]] = {}
    for route in plan.routes.values():
        for sid in route:
            g = plan.stops[sid].order_group
            if g is not None:
                groups.setdefault(g, []).append(sid)
    return groups


def lock_violations(
    plan: Plan, routes: Mapping[str, Sequence[str]], unassigned: Sequence[str] = ()
) -> list[str]:
    """Every way ``routes`` (for some or all vehicles) break the locks of ``plan``.

    Vehicles missing from ``routes`` keep their current route.
    """
    merged = {vid: list(r) for vid, r in plan.routes.items()}
    merged.update({vid: list(r) for vid, r in routes.items()})
    problems: list[str] = []
    listed = [s for r in merged.values() for s in r] + list(unassigned)
    if sorted(listed) != sorted(plan.stops):
        problems.append("routes do not hold every stop exactly once")
    old, new = _positions(plan.routes), _positions(merged)
    for sid, stop in plan.stops.items():
        if sid not in old:
            continue
        if stop.is_fixed or stop.pinned:
            if new.get(sid) != old[sid]:
                problems.append(f"stop {sid} is fixed or pinned but moved")
        elif stop.keep_vehicle and new.get(sid, ("", 0))[0] != old[sid][0]:
            problems.append(f"stop {sid} must stay on vehicle {old[sid][0]}")
    for g, members in group_members(plan).items():
        where = [new.get(s) for s in members]
        if any(w is None for w in where):
            problems.append(f"group {g} lost a stop")
            continue
        vehicles = {w[0] for w in where if w is not None}
        idx = [w[1] for w in where if w is not None]
        if len(vehicles) != 1 or idx != sorted(idx):
            problems.append(f"group {g} is split or out of order")
    return problems
