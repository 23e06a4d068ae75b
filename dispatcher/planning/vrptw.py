"""Solomon VRPTW solving with OR-Tools, tuned for "fewest vehicles, then distance".

Plain OR-Tools (cheapest arc + GLS) struggles on these instances: it often finds no first
solution on tight R1/RC1 instances and keeps extra vehicles. What helps, measured in
``bench/planning.py``:

1. A first solution by parallel cheapest insertion, then guided local search, with a fixed
   cost per vehicle so that emptying a route always pays.
2. Route elimination: with ``k`` routes, try ``k - 1`` vehicles warm-started from the current
   routes minus the smallest one; its customers start unassigned and may only stay out at a
   huge penalty (drop penalties as the fallback that keeps the search moving). A solution with
   every customer served replaces the incumbent, and we try again.
3. The remaining time goes to distance with the vehicle count fixed, warm-started.

Integer arcs: distances are scaled by :data:`SCALE` (rounded for cost, rounded *up* for time so
that any solution the solver accepts is feasible in exact arithmetic).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from dispatcher.planning.routing import (
    FIRST_SOLUTION,
    ProgressCallback,
    RoutingProblem,
    SearchParams,
    solve_routing,
)
from dispatcher.planning.solomon import SolomonInstance

SCALE = 10_000


@dataclass(frozen=True, slots=True)
class VrptwResult:
    """Routes as customer numbers (depot omitted) and their unrounded distance."""

    routes: list[list[int]]
    distance: float
    vehicles: int
    log: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VrptwTuning:
    """Knobs of :func:`solve_vrptw` (defaults are what the bench found best)."""

    first_share: float = 0.25
    reduce_share: float = 0.2
    fixed_cost_factor: float = 2.0
    final_fixed_cost: bool = True
    drop_factor: float = 4.0
    first_solution: int = FIRST_SOLUTION.PARALLEL_CHEAPEST_INSERTION
    neighbors_ratio: float = 0.2
    min_neighbors: int = 10
    gls_lambda: float = 0.1

    def search(self, time_limit_s: float, first: bool = False) -> SearchParams:
        """Search parameters of one phase."""
        return SearchParams(
            time_limit_s,
            self.first_solution if first else FIRST_SOLUTION.PARALLEL_CHEAPEST_INSERTION,
            neighbors_ratio=self.neighbors_ratio,
            min_neighbors=self.min_neighbors,
            gls_lambda=self.gls_lambda,
        )


def _problem(inst: SolomonInstance, vehicles: int, fixed_cost: int) -> RoutingProblem:
    d = inst.distance_matrix()
    n = len(d)
    travel = np.ceil(d * SCALE - 1e-6).astype(np.int64) + np.rint(
        inst.service[:, None] * SCALE
    ).astype(np.int64)
    return (
        RoutingProblem(
            cost=np.rint(d * SCALE).astype(np.int64),
            travel=travel,
            starts=[0] * vehicles,
            ends=[0] * vehicles,
            window_lo=np.rint(inst.ready * SCALE).astype(np.int64),
            window_hi=np.rint(inst.due * SCALE).astype(np.int64),
            capacities=[inst.capacity] * vehicles,
            demand=np.rint(inst.demand).astype(np.int64),
            fixed_cost=fixed_cost,
            start_load=[None] * vehicles,
        )
        if n
        else RoutingProblem(
            cost=np.zeros((1, 1), np.int64),
            travel=np.zeros((1, 1), np.int64),
            starts=[0],
            ends=[0],
            window_lo=np.zeros(1, np.int64),
            window_hi=np.zeros(1, np.int64),
            capacities=[0],
            demand=np.zeros(1, np.int64),
        )
    )


def solve_vrptw(
    inst: SolomonInstance,
    time_limit_s: float,
    tuning: VrptwTuning | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> VrptwResult:
    """Best routes found within ``time_limit_s`` (vehicles first, then distance)."""
    tune = tuning or VrptwTuning()
    t_end = time.monotonic() + time_limit_s
    log: list[str] = []
    d = inst.distance_matrix()
    fixed = int(tune.fixed_cost_factor * float(d[0].max()) * 2 * SCALE)
    first = solve_routing(
        _problem(inst, inst.vehicles, fixed),
        tune.search(time_limit_s * tune.first_share, first=True),
        cancel=cancel,
        progress=progress,
    )
    if first.routes is None:
        log.append("no first solution")
        return VrptwResult([], float("inf"), 0, tuple(log))
    best = [r for r in first.routes if r]
    log.append(f"first: {len(best)} routes {inst.route_distance(best):.2f}")
    while len(best) > 1 and time.monotonic() < t_end - 0.1:
        if cancel is not None and cancel.is_set():
            break
        fewer = _eliminate_route(
            inst,
            best,
            fixed,
            min(tune.reduce_share * time_limit_s, t_end - time.monotonic()),
            cancel,
            tune,
        )
        if fewer is None:
            log.append(f"cannot go below {len(best)} routes")
            break
        best = fewer
        log.append(f"reduced: {len(best)} routes {inst.route_distance(best):.2f}")
    left = t_end - time.monotonic()
    if left > 0.05 and not (cancel is not None and cancel.is_set()):
        final = solve_routing(
            _problem(inst, len(best), fixed if tune.final_fixed_cost else 0),
            tune.search(left),
            initial=best,
            cancel=cancel,
            progress=progress,
        )
        if final.routes is not None:
            routes = [r for r in final.routes if r]
            if (
                len(routes) <= len(best)
                and inst.route_distance(routes) < inst.route_distance(best) + 1e-9
            ):
                best = routes
        log.append(f"final: {len(best)} routes {inst.route_distance(best):.2f}")
    return VrptwResult(best, inst.route_distance(best), len(best), tuple(log))


def _eliminate_route(
    inst: SolomonInstance,
    routes: list[list[int]],
    fixed: int,
    time_limit_s: float,
    cancel: threading.Event | None,
    tune: VrptwTuning,
) -> list[list[int]] | None:
    """Try to serve every customer with one route fewer; ``None`` if not found in time."""
    k = len(routes) - 1
    smallest = min(range(len(routes)), key=lambda i: (len(routes[i]), i))
    initial = [r for i, r in enumerate(routes) if i != smallest]
    problem = _problem(inst, k, fixed)
    problem.drop_penalty = int(SCALE * float(inst.distance_matrix().max()) * tune.drop_factor)
    out = solve_routing(problem, tune.search(max(0.05, time_limit_s)), initial, cancel)
    if out.routes is None:
        return None
    served = sum(len(r) for r in out.routes)
    if served < inst.customers:
        return None
    return [r for r in out.routes if r]
