"""Which delivery slots can the fleet really serve for one order? (the customer's reschedule)

For each candidate slot (a day and a window), the order is taken off its route and offered
to every vehicle of that day with the slot as its window, by the same exact insertion search
the route board's "best place" uses (:func:`~dispatcher.planning.insertion.suggest_insertions`:
travel, windows, capacity, shifts). A slot is offered only when some vehicle takes the order
without making any stop late, its shift overrun or its load exceed capacity. A customer is
never shown a slot the plan cannot keep.

The travel matrix is built once per day; each candidate only changes the order's window in
the per-node arrays, so twenty slots cost twenty insertion searches, not twenty matrices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dispatcher.eta.travel import TravelTimeProvider
from dispatcher.model.core import StopStatus
from dispatcher.planning.dayplan import DayPlan
from dispatcher.planning.insertion import suggest_insertions
from dispatcher.planning.model import PlanMatrix, PlanStop, to_plan_seconds

Slot = tuple[datetime, datetime]


def feasible_slots(
    day: DayPlan,
    stop: PlanStop,
    candidates: Sequence[Slot],
    provider: TravelTimeProvider,
) -> list[Slot]:
    """The ``candidates`` (all on ``day.day``) in which some vehicle can serve ``stop``.

    ``stop`` is the order as the planner sees it (its id, place, service time, demand); it is
    taken off whichever route of ``day`` holds it and offered as a pending stop.
    """
    if not candidates or not day.plan.vehicles:
        return []
    plan = day.plan.copy()
    sid = stop.id
    for route in plan.routes.values():
        if sid in route:
            route.remove(sid)
    if sid in plan.unassigned:
        plan.unassigned.remove(sid)
    plan.stops[sid] = dataclasses.replace(stop, status=StopStatus.PENDING, pinned=False)
    plan.unassigned.append(sid)
    pm = PlanMatrix.build(plan, provider)
    node = pm.stop_node[sid]
    offered: list[Slot] = []
    for start, end in candidates:
        ws, we = pm.window_start.copy(), pm.window_end.copy()
        ws[node], we[node] = to_plan_seconds(start, day.origin), to_plan_seconds(end, day.origin)
        trial_pm = dataclasses.replace(pm, window_start=ws, window_end=we)
        trial = plan.copy()
        trial.stops[sid] = dataclasses.replace(
            plan.stops[sid], window_start=float(ws[node]), window_end=float(we[node])
        )
        best = suggest_insertions(trial, trial_pm, sid, limit=1)
        # keeps_feasibility: no stop newly late, no new overtime or overload on that van.
        if best and best[0].keeps_feasibility and best[0].added_lateness <= 0:
            offered.append((start, end))
    return offered


def slot_grid(days: Sequence[date], hours: Sequence[tuple[int, int]], tz: str) -> list[Slot]:
    """Candidate windows: each ``(start_hour, end_hour)`` on each day, aware in ``tz``."""
    zone = ZoneInfo(tz)

    def at(d: date, h: int) -> datetime:
        return datetime.combine(d, time(h) if h < 24 else time(23, 59), zone)

    return [(at(d, h0), at(d, h1)) for d in days for h0, h1 in hours]
