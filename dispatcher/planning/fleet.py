"""Whole-fleet optimization with PyVRP, falling back to OR-Tools where PyVRP cannot go.

:func:`~dispatcher.planning.optimize.optimize` calls :func:`optimize_fleet` for the fleet scope
(several vehicles) unless ``OptimizeOptions.engine == "ortools"``. The model is the same
:class:`~dispatcher.planning.routing.RoutingProblem` the OR-Tools path builds (live starts,
windows, capacities, pickups and deliveries, live loads, shift ends, vehicle restrictions);
:mod:`dispatcher.planning.pyvrp_engine` translates it.

How locks are handled:

- done prefix: left out of the model, put back in front (as for OR-Tools);
- in-progress stop: the vehicle starts at that stop when its service starts (exact);
- ``keep_vehicle``, pinned stops' vehicles, deliveries on board of a vehicle on the road and
  "no new deliveries for a vehicle on the road": vehicle restrictions, encoded as travel
  profiles in which the forbidden stops cannot be reached in time;
- pinned positions and order groups: PyVRP has no position or precedence constraint, and
  repairing its routes afterwards would undo what it optimized, so any plan with a pin or a
  group among the stops to plan goes to OR-Tools, which encodes both exactly. (Pins and groups
  are the exception on a fleet run; the common case gets the better engine.)

Every PyVRP answer is checked like the OR-Tools one (:func:`lock_violations`, the exact
time-dependent evaluator). It is kept only if it honours every lock and is feasible there;
otherwise OR-Tools runs with the time left (at least a quarter of the limit) and the better of
the two sound answers is returned. PyVRP gives up after 40 % of the limit without any feasible
solution (e.g. a day that already went wrong, where only soft windows give a plan), leaving
the rest to OR-Tools' soft-window and drop fallbacks.
"""

from __future__ import annotations

import time
from dataclasses import replace

from dispatcher.planning.initial import initial_routes
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import (
    OptimizationResult,
    OptimizeOptions,
    build_model,
    optimize,
    preview_of,
)
from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp, stall_for, unsupported
from dispatcher.planning.routing import CancelToken, ProgressCallback

GIVE_UP_SHARE = 0.4
"""Share of the time limit after which PyVRP without any feasible solution hands over."""
FALLBACK_MIN_SHARE = 0.25
"""OR-Tools gets at least this share of the limit when PyVRP's answer is not sound."""


def optimize_fleet(
    plan: Plan,
    pm: PlanMatrix,
    options: OptimizeOptions,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> OptimizationResult:
    """PyVRP when it can express the problem and its answer is sound, else OR-Tools."""
    t0 = time.monotonic()
    ortools = replace(options, engine="ortools")
    build = build_model(plan, pm, options)
    if not build.problem.stops or unsupported(build.problem) is not None:
        return optimize(plan, pm, ortools, cancel, progress)  # nothing to plan, or locks
    start = initial_routes(plan, pm, build.vehicle_ids, build.free_unassigned)
    initial = None
    if start is not None:
        node_of = {s: n for n, s in build.node_stop.items()}
        initial = [[node_of[s] for s in start[0][v] if s in node_of] for v in build.vehicle_ids]
    limit = options.time_limit_s
    stall = stall_for(len(build.problem.stops), limit)  # converged: do not wait for the limit
    search = PyvrpSearch(limit, give_up_s=GIVE_UP_SHARE * limit, stall_s=stall)
    out = solve_pyvrp(build.problem, search, initial, cancel, progress)
    elapsed = time.monotonic() - t0
    candidate = None
    if out.routes is not None:
        candidate = preview_of(plan, pm, build, out, mode="hard", elapsed=elapsed)
        candidate = replace(candidate, engine="pyvrp")
        if candidate.honours_locks and (candidate.feasible or out.cancelled):
            return candidate
    budget = max(limit - elapsed, FALLBACK_MIN_SHARE * limit)
    fallback = optimize(plan, pm, replace(ortools, time_limit_s=budget), cancel, progress)
    best = fallback
    if candidate is not None and candidate.honours_locks:
        best = min((candidate, fallback), key=_badness)
    return replace(best, elapsed_s=time.monotonic() - t0)


def _badness(r: OptimizationResult) -> tuple[int, int, float, float, float, float]:
    """Order of preference between two lock-honouring previews: then money (0 for a fleet
    without costs), then distance."""
    late = sum(ev.late_stops for ev in r.after.routes.values())
    short = sum(ev.overload + ev.shortfall for ev in r.after.routes.values())
    overtime = sum(ev.overtime for ev in r.after.routes.values())
    return (len(r.unassigned), late, float(short), overtime, r.after.cost, r.after.distance)
