"""Instant evaluation of routes: what every drag on the route board calls.

:func:`evaluate_route` is pure and vectorized. With a flat speed profile the schedule is a
max-plus recurrence that numpy solves in closed form: if ``C`` is the arrival time assuming no
waiting, the accumulated waiting is ``maximum.accumulate(max(window_start - C, 0))``. With a
time-of-day profile each leg takes ``free_flow * factor(departure)``; we iterate "compute the
schedule, recompute the factors from its departures" until the factors stop changing, which is
exactly the sequential definition (the first wrong leg is corrected on every pass) and in practice
converges in two or three passes; a plain loop takes over after a few passes as a safety net.

Departure. A vehicle still at the depot (no live start time) leaves as late as its first
stop's window allows: when leaving at shift start would mean waiting at the first stop, the
schedule leaves that much later (:attr:`RouteEvaluation.start_time`) and arrives as the
window opens. Every service start stays what it was (so lateness, end time and overtime do
not change); only the first arrival, its waiting and the route's duration do. The boards,
the map and every ETA read this one schedule (:mod:`dispatcher.planning.stop_eta`), so
none of them says "07:04" for a stop that opens at 11:00 while the van could be loading.
A vehicle on the road is on the clock from now and keeps its waiting.

Money. A vehicle with costs (:mod:`dispatcher.planning.costs`) gets its route's
:attr:`RouteEvaluation.cost`, its hours counted as the solvers count them, from the latest
start that keeps every window and the end time. The boards' schedule leaves earlier than
that when the route waits further on: it serves every stop as early as it can, which keeps
each window's slack for the road's surprises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dispatcher import display
from dispatcher.eta.travel import SpeedProfile
from dispatcher.planning.costs import route_money
from dispatcher.planning.model import FloatArray, Plan, PlanMatrix, PlanVehicle

PERIOD_EDGE_S = 1e-3
"""How long before a speed period ends a departure still counts as in it."""


@dataclass(frozen=True, slots=True)
class RouteEvaluation:
    """Schedule, load and totals of one vehicle's remaining route.

    Per-stop arrays follow ``stop_ids`` (done stops are history and are left out; the
    in-progress stop is the first one). Times are plan seconds. ``overload`` is the worst
    excess over capacity; ``shortfall`` the worst negative load (a live vehicle asked to
    deliver more than it reports on board). ``start_time`` is when the vehicle leaves (see
    the module doc: a depot vehicle leaves as late as its first window allows) and
    ``duration`` runs from it to ``end_time``. ``cost`` is the route's money at the vehicle's
    rates (fixed + per km + per hour; 0 for a vehicle without costs), its hours counted as
    the solvers count them: from the latest start that keeps every window and the end time
    (:func:`_latest_start`), which may be later than ``start_time`` when the route waits
    further on.
    """

    vehicle_id: str
    stop_ids: tuple[str, ...]
    arrival: FloatArray
    service_start: FloatArray
    departure: FloatArray
    waiting: FloatArray
    lateness: FloatArray
    load_after: FloatArray
    start_load: float
    distance: float
    duration: float
    end_time: float
    overtime: float
    max_load: float
    overload: float
    shortfall: float = 0.0
    start_time: float = 0.0
    cost: float = 0.0
    weight_overload: float = 0.0
    volume_overload: float = 0.0
    break_start: float | None = None
    """When the driver's break begins (``None``: no break on this route, or it is over)."""
    break_late: float = 0.0
    """How much later than its window's end the break begins (seconds)."""
    over_duration: float = 0.0
    """Route duration beyond the vehicle's maximum (seconds)."""

    @property
    def late_stops(self) -> int:
        """How many stops start service after their window end."""
        return int(np.count_nonzero(self.lateness > 1e-9))

    @property
    def total_lateness(self) -> float:
        """Sum of the lateness of every stop, seconds."""
        return float(self.lateness.sum())

    @property
    def feasible(self) -> bool:
        """No late stop, no overtime and no capacity violation."""
        return (
            self.late_stops == 0
            and self.overtime <= 1e-9
            and self.overload <= 0
            and self.shortfall <= 0
            and self.weight_overload <= 0
            and self.volume_overload <= 0
            and self.break_late <= 1e-9
            and self.over_duration <= 1e-9
        )


@dataclass(frozen=True, slots=True)
class PlanEvaluation:
    """Evaluations of every route plus fleet totals (what the board's footer shows)."""

    routes: dict[str, RouteEvaluation]
    unassigned: int

    @property
    def distance(self) -> float:
        return sum(r.distance for r in self.routes.values())

    @property
    def duration(self) -> float:
        return sum(r.duration for r in self.routes.values())

    @property
    def cost(self) -> float:
        """Money of every route at its vehicle's rates (0 for a fleet without costs)."""
        return sum(r.cost for r in self.routes.values())

    @property
    def late_stops(self) -> int:
        return sum(r.late_stops for r in self.routes.values())

    @property
    def overtime(self) -> float:
        return sum(r.overtime for r in self.routes.values())

    @property
    def overloaded_routes(self) -> int:
        return sum(1 for r in self.routes.values() if r.overload > 0)

    @property
    def feasible(self) -> bool:
        return self.unassigned == 0 and all(r.feasible for r in self.routes.values())


def _schedule(
    t0: float, legs: FloatArray, service: FloatArray, ws: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Arrival at each node after the start and the cumulative waiting before leaving it.

    ``legs[k]`` is the travel into node ``k`` (stops, then the end depot if any); ``service``
    and ``ws`` have one entry per node (the end depot has 0 / 0).
    """
    x = legs.copy()
    x[1:] += service[:-1]
    c = np.cumsum(x)
    c += t0
    gap = ws - c
    np.maximum(gap, 0.0, out=gap)
    wait = np.maximum.accumulate(gap)
    return c, wait


def evaluate_route(
    pm: PlanMatrix, vehicle: PlanVehicle, stop_ids: Sequence[str], plan: Plan | None = None
) -> RouteEvaluation:
    """Evaluate ``vehicle`` driving ``stop_ids`` from its live position (or depot).

    Args:
        pm: The plan's matrix and stop arrays.
        vehicle: Start place/time/load, shift and end depot.
        stop_ids: The route in visit order. Done stops (final status) are skipped when
            ``plan`` is given, so a UI can pass its full route list.
        plan: Needed only to recognise done stops.
    """
    if plan is not None:
        stop_ids = [s for s in stop_ids if not plan.stops[s].status.is_final]
    sn = pm.stop_node
    nodes = [sn[s] for s in stop_ids]
    m = len(nodes)
    end = pm.end_node.get(vehicle.id)
    path = np.fromiter(
        [pm.start_node[vehicle.id], *nodes, *(() if end is None else (end,))],
        dtype=np.int64,
        count=m + 1 + (end is not None),
    )
    frm, to = path[:-1], path[1:]
    matrix = pm.matrix_of(vehicle.id)  # a cargo bike on the bicycle profile's matrix
    free = matrix.duration[frm, to]
    dist = float(matrix.distance[frm, to].sum())
    svc, ws = pm.service[to], pm.window_start[to]
    t0 = vehicle.departure
    profile = matrix.profile
    if profile.is_flat or len(free) == 0:
        c, wait = _schedule(t0, free, svc, ws)
    else:
        c, wait = _profiled_schedule(t0, free, svc, ws, profile)
    arrive_all = c + np.concatenate(([0.0], wait[:-1])) if len(c) else c
    begin_all = c + wait
    brk = None
    if vehicle.has_break and len(c):
        arrive_all, begin_all, brk = _with_break(
            vehicle, t0, arrive_all, begin_all, free, svc, ws, profile
        )
    arrival, begin = arrive_all[:m].copy(), begin_all[:m]
    start = t0
    if vehicle.start_time is None and m and begin[0] > arrival[0] and brk is None:
        start = _late_departure(t0, float(free[0]), float(begin[0]), profile)
        arrival[0] = min(start + float(free[0]) * profile.period_at(start)[0], begin[0])
    departure = begin + svc[:m]
    waiting = begin - arrival
    lateness = np.maximum(begin - pm.window_end[to[:m]], 0.0)
    last_departure = float(departure[-1]) if m else t0
    end_time = float(arrive_all[m]) if end is not None else last_departure
    start_load = (
        float(vehicle.current_load)
        if vehicle.current_load is not None
        else float(pm.delivery[to[:m]].sum())
    )
    load = start_load + np.cumsum(pm.load_delta[to[:m]])
    max_load = max(start_load, float(load.max())) if m else start_load
    min_load = min(start_load, float(load.min())) if m else start_load
    duration = end_time - start
    extra = _extra_overload(pm, vehicle, to[:m])
    costed = end_time - start
    if vehicle.start_time is None and m and vehicle.cost_per_hour > 0:
        costed = end_time - _latest_start(t0, c, pm.window_start[to], pm.window_end[to])
    return RouteEvaluation(
        vehicle.id,
        tuple(stop_ids),
        arrival,
        begin,
        departure,
        waiting,
        lateness,
        load,
        start_load,
        dist,
        duration,
        end_time,
        max(0.0, end_time - vehicle.shift_end),
        max_load,
        max(0.0, max_load - vehicle.capacity),
        max(0.0, -min_load),
        start,
        route_money(vehicle, dist, min(costed, duration), used=m > 0),
        extra[0],
        extra[1],
        None if brk is None else brk,
        0.0
        if brk is None or vehicle.break_window is None
        else max(0.0, brk - vehicle.break_window[1]),
        0.0 if vehicle.max_duration_s is None else max(0.0, duration - vehicle.max_duration_s),
    )


def _extra_overload(
    pm: PlanMatrix, vehicle: PlanVehicle, nodes: npt.NDArray[np.int64]
) -> tuple[float, float]:
    """Worst excess over the weight and the volume limit along the route (deliveries are
    loaded at the depot, pickups carried back, paired goods ride between their stops)."""
    if pm.extra_delta is None or pm.extra_delivery is None or not len(nodes):
        return 0.0, 0.0
    start = pm.extra_delivery[nodes].sum(axis=0)
    load = start + np.cumsum(pm.extra_delta[nodes], axis=0)
    peak = np.maximum(start, load.max(axis=0))
    limits = vehicle.limits
    return max(0.0, float(peak[0]) - limits[1]), max(0.0, float(peak[1]) - limits[2])


def _with_break(
    vehicle: PlanVehicle,
    t0: float,
    arrive: FloatArray,
    begin: FloatArray,
    free: FloatArray,
    svc: FloatArray,
    ws: FloatArray,
    profile: SpeedProfile,
) -> tuple[FloatArray, FloatArray, float | None]:
    """The schedule with the driver's break, and when the break begins.

    The rule every path shares (:mod:`dispatcher.planning.constraints`), at the first
    opportunity along the route: a wait for a window that holds the whole break once the
    break's window has opened (nothing moves), or else at the stop the vehicle is at (or at
    the start) before the first leg that would arrive after the window opens, as soon as it
    has opened; the rest of the route then shifts. A route that is over before the window
    opens needs no break, and a vehicle on the road after the window closed has taken it
    (the console does not track breaks live).
    """
    assert vehicle.break_window is not None
    lo, hi = vehicle.break_window
    if vehicle.start_time is not None and vehicle.start_time > hi:
        return arrive, begin, None
    in_wait = (arrive < lo) & (lo <= hi) & (lo + vehicle.break_s <= begin)
    chance = np.nonzero((arrive >= lo) | in_wait)[0]
    if not len(chance):
        return arrive, begin, None
    k = int(chance[0])
    if in_wait[k]:
        return arrive, begin, lo
    leave = t0 if k == 0 else float(begin[k - 1] + svc[k - 1])
    brk = max(leave, lo)
    t1 = brk + vehicle.break_s
    if profile.is_flat:
        c, wait = _schedule(t1, free[k:], svc[k:], ws[k:])
    else:
        c, wait = _profiled_schedule(t1, free[k:], svc[k:], ws[k:], profile)
    arrive, begin = arrive.copy(), begin.copy()
    arrive[k:] = c + np.concatenate(([0.0], wait[:-1]))
    begin[k:] = c + wait
    return arrive, begin, brk


def _latest_start(t0: float, c: FloatArray, ws: FloatArray, we: FloatArray) -> float:
    """The latest departure that neither brings the vehicle back later nor serves any stop
    later than its window (or later than it already was): the start the solvers assume
    when they price a route's duration (:mod:`dispatcher.planning.costs`).

    ``c`` is the schedule's arrival at every node without waiting, from ``t0``. Leaving at
    ``t`` starts node ``k`` at ``C_k + max(t, M_k)`` with ``C_k = c_k − t0`` and ``M_k`` the
    running maximum of ``ws_j − C_j``: up to ``M_last`` the end does not move, and stop ``k``
    stays on time while ``t ≤ max(we_k − C_k, M_k)``. Legs keep their timed durations (a
    speed profile's change with the later start is not followed).
    """
    lead = c - t0
    m_k = np.maximum.accumulate(ws - lead)
    bound = np.maximum(np.maximum(we - lead, m_k), t0)
    return max(t0, min(float(m_k[-1]), float(bound.min())))


def _late_departure(t0: float, free0: float, first_begin: float, profile: SpeedProfile) -> float:
    """The latest departure from ``t0`` on that still reaches the first stop by
    ``first_begin`` (its service start when leaving at ``t0``).

    The first leg takes ``free0 × factor(departure)``, so period by period of the speed
    profile the latest departure is ``first_begin − free0 × factor``, if it falls in that
    period (or just before its end, where a slower period begins); the last one found wins.
    A flat profile gives ``first_begin − free0``.
    """
    best, t = t0, t0
    while t < first_begin:
        factor, nxt = profile.period_at(t)
        dep = first_begin - free0 * factor
        if dep >= t:
            best = max(best, min(dep, nxt - PERIOD_EDGE_S))
        t = nxt
    return best


def _profiled_schedule(
    t0: float, free: FloatArray, svc: FloatArray, ws: FloatArray, profile: SpeedProfile
) -> tuple[FloatArray, FloatArray]:
    """Schedule with time-of-day factors, one vectorized pass per speed period crossed.

    Departures never go backwards along a route, so all legs departing before the next
    period boundary share one factor: solve the rest of the route with it, keep the nodes
    reached by those legs, and restart from the first leg that departs in the next period.
    Returns the same ``(c, cumulative wait)`` decomposition as :func:`_schedule`.
    """
    n = len(free)
    c, wait = np.empty(n), np.empty(n)
    start, dep, waited = 0, t0, 0.0
    while start < n:
        factor, boundary = profile.period_at(dep)
        cs, ww = _schedule(dep, free[start:] * factor, svc[start:], ws[start:])
        leave = cs + ww + svc[start:]
        keep = int(np.searchsorted(leave, boundary, side="left")) + 1
        end = min(n, start + keep)
        m = end - start
        c[start:end] = cs[:m] - waited
        wait[start:end] = ww[:m] + waited
        waited += float(ww[m - 1])
        dep = float(leave[m - 1])
        start = end
    return c, wait


def evaluate_plan(pm: PlanMatrix, plan: Plan) -> PlanEvaluation:
    """Evaluate every route of ``plan``."""
    routes = {
        vid: evaluate_route(pm, plan.vehicles[vid], route, plan)
        for vid, route in plan.routes.items()
    }
    return PlanEvaluation(routes, len(plan.unassigned))


class _Totals(Protocol):
    @property
    def distance(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def late_stops(self) -> int: ...
    @property
    def overtime(self) -> float: ...


@dataclass(frozen=True, slots=True)
class EvaluationDiff:
    """What a change does to the totals: the one-line feedback of a drag or an optimization."""

    distance_delta: float
    duration_delta: float
    late_before: int
    late_after: int
    overtime_before: float
    overtime_after: float

    @property
    def improves(self) -> bool:
        """Fewer late stops, or as many and no longer, in that order of importance."""
        if self.late_after != self.late_before:
            return self.late_after < self.late_before
        return self.duration_delta <= 0

    def summary(self, metres_per_unit: float | None = None, unit: str = "") -> str:
        """Human text such as ``"+4.0 km, +12 min, 2 late → 0 late"``.

        Args:
            metres_per_unit: Divisor for distances (1 for plane instances); None: metres
                written in the fleet's unit (:mod:`dispatcher.display`).
            unit: Distance unit label with ``metres_per_unit``.
        """
        if metres_per_unit is None:
            distance = display.current().signed_distance(self.distance_delta)
        else:
            distance = f"{signed(self.distance_delta / metres_per_unit, 1)} {unit}".rstrip()
        parts = [
            distance,
            f"{signed(self.duration_delta / 60)} min",
            f"{self.late_before} late → {self.late_after} late",
        ]
        if self.overtime_before > 0 or self.overtime_after > 0:
            parts.append(
                f"overtime {self.overtime_before / 60:.0f} → {self.overtime_after / 60:.0f} min"
            )
        return ", ".join(parts)


def signed(value: float, digits: int = 0) -> str:
    """``+4``, ``-3``, ``±0`` (never ``+-0`` nor ``-0``): a change as a person reads it."""
    text = f"{value:+.{digits}f}"
    return "±" + text[1:] if float(text) == 0 else text


def diff(before: _Totals, after: _Totals) -> EvaluationDiff:
    """Compare two evaluations (of a route or of a whole plan)."""
    return EvaluationDiff(
        after.distance - before.distance,
        after.duration - before.duration,
        before.late_stops,
        after.late_stops,
        before.overtime,
        after.overtime,
    )
