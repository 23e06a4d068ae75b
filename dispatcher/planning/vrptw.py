"""Solomon VRPTW solving, tuned for "fewest vehicles, then distance"; ``dispatcher solve``.

Two engines. The default, ``"pyvrp"`` (:mod:`dispatcher.planning.pyvrp_engine`), reaches the
benchmark's targets; ``"ortools"`` is kept as the record of what OR-Tools reaches and as the
engine of everything PyVRP cannot express. PyVRP (see :func:`_solve_pyvrp`) runs two arms
at once where a second core is available (:mod:`dispatcher.planning.fleet_portfolio`): a
plain PyVRP search for the whole limit (bare PyVRP's) and the *reduction arm* below, and
keeps the fewer vehicles, then the shorter distance. The reduction arm:

1. A first solution with the whole fleet and a fixed cost per vehicle.
2. Vehicle reduction: with ``k`` routes, a fresh search with only ``k - 1`` vehicles, stopped
   at its first feasible solution or after its budget (:func:`reduce_budget`: a quarter of
   the limit for the first attempt, then ten times the longest success within 15-25 %);
   repeated while it succeeds (down to the capacity bound). Searching from scratch finds the
   fewer-vehicle solutions far sooner than a warm start without the smallest route
   (measured: RC101 with 14 vehicles in about 1 s from scratch, not in 3 s warm-started).
3. The rest of the time improves distance, warm-started from the reduced solution and never
   returning more than its ``k`` routes: with exactly ``k`` vehicles up to 250 customers,
   with the whole fleet at five times the fixed cost above (:func:`final_fleet`).

Quality target (issue 18): at equal vehicles, never more than 0.5 % longer than bare PyVRP
given the same limit, while using fewer vehicles where it can; ``bench/planning.py
--versus`` measures it on the bench's and on generated instances (docs/planning.md). The
reduction arm alone missed it by 1-2 % in some cells (every phase boundary restarts a
search that bare PyVRP keeps going); the plain arm beside it is what meets it.

OR-Tools (``engine="ortools"``). Plain OR-Tools (cheapest arc + GLS) struggles on these
instances: it often finds no first solution on tight R1/RC1 instances and keeps extra
vehicles. What helps, measured in ``bench/planning.py``:

1. A first solution by parallel cheapest insertion, then guided local search, with a fixed
   cost per vehicle so that emptying a route always pays.
2. Route elimination: with ``k`` routes, try ``k - 1`` vehicles warm-started from the current
   routes minus the smallest one; its customers start unassigned and may only stay out at a
   huge penalty (drop penalties as the fallback that keeps the search moving). A solution with
   every customer served replaces the incumbent, and we try again.
3. The remaining time goes to distance with the vehicle count fixed: 40 % warm-started GLS,
   then ruin and recreate (remove ~20 % of the customers around a random one, reinsert them
   with a short warm-started GLS, keep if shorter), which beats plain GLS on long routes
   (figures in :func:`_ruin_and_recreate` and docs/planning.md).

Integer arcs: distances are scaled by :data:`SCALE` (rounded for cost, rounded *up* for time so
that any solution the solver accepts is feasible in exact arithmetic).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TextIO, cast

import numpy as np

from dispatcher.clock import system_monotonic
from dispatcher.errors import ValidationError
from dispatcher.planning.fleet_portfolio import (
    MARGIN_S,
    PLAIN,
    REDUCTION,
    REDUCTION_NICE,
    Answer,
    Report,
    can_run_beside,
    choose,
    run_beside,
)
from dispatcher.planning.routing import (
    FIRST_SOLUTION,
    CancelToken,
    ProgressCallback,
    RoutingProblem,
    SearchParams,
    solve_routing,
)
from dispatcher.planning.solomon import SolomonInstance, read_solomon

SCALE = 10_000
ARM_SEED_SHIFT = 100
"""Seed offset of the reduction arm when the plain arm runs beside it: the plain arm is bare
PyVRP's search (same seed), and the reduction arm's first and final phases would otherwise
replay much of that trajectory; another seed makes the two arms two different tries."""
Engine = Literal["pyvrp", "ortools"]
ENGINES: tuple[Engine, ...] = ("pyvrp", "ortools")
DEFAULT_ENGINE: Engine = "pyvrp"


@dataclass(frozen=True, slots=True)
class VrptwResult:
    """Routes as customer numbers (depot omitted) and their unrounded distance."""

    routes: list[list[int]]
    distance: float
    vehicles: int
    log: tuple[str, ...] = ()
    engine: str = ""
    """Which arm found the routes: ``"reduction"`` or ``"plain"`` (PyVRP's portfolio,
    :mod:`dispatcher.planning.fleet_portfolio`), ``"ortools"``; empty when none did."""


@dataclass(frozen=True, slots=True)
class VrptwTuning:
    """Knobs of :func:`solve_vrptw` (defaults are what the bench found best)."""

    first_share: float = 0.25
    reduce_share: float = 0.15
    elimination_tries: int = 1
    wide_elimination: bool = True
    final_gls_share: float = 0.4
    ruin_share: float = 0.2
    ruin_max: int = 25
    ruin_step_s: float | None = None
    seed: int = 1
    fixed_cost_factor: float = 2.0
    drop_factor: float = 4.0
    first_solution: int = FIRST_SOLUTION.PARALLEL_CHEAPEST_INSERTION
    neighbors_ratio: float = 0.2
    min_neighbors: int = 10
    gls_lambda: float = 0.1

    def search(self, time_limit_s: float, first: bool = False, wide: bool = False) -> SearchParams:
        """Search parameters of one phase (``wide``: full neighbourhoods, for elimination)."""
        return SearchParams(
            time_limit_s,
            self.first_solution if first else FIRST_SOLUTION.PARALLEL_CHEAPEST_INSERTION,
            neighbors_ratio=1.0 if wide and self.wide_elimination else self.neighbors_ratio,
            min_neighbors=self.min_neighbors,
            gls_lambda=self.gls_lambda,
        )


@dataclass(frozen=True, slots=True)
class PyvrpTuning:
    """Knobs of the PyVRP engine (defaults measured with ``bench/planning.py --versus``).

    ``scale`` 1000 rather than OR-Tools' 10 000: PyVRP's penalty bounds are tuned for
    moderate numbers (it warns about "large data scaling differences" at 10 000); times are
    still rounded up, so accepted routes stay feasible in exact arithmetic.

    Phases: ``first_share`` of the limit for the whole fleet; each vehicle-reduction attempt
    gets :func:`reduce_budget`; the rest goes to the final phase (:func:`final_fleet`).
    """

    first_share: float = 0.15
    reduce_share: float = 0.25
    reduce_min_share: float = 0.15
    reduce_grow: float = 10.0
    slack_above: int = 250
    restart_stall_share: float = 0.15
    restart_stall_min_s: float = 3.0
    slack_fixed_factor: float = 5.0
    fixed_cost_factor: float = 2.0
    scale: int = 1000
    seed: int = 1
    portfolio: bool = True
    """Run the plain arm beside the reduction arm where a second core is available
    (:mod:`dispatcher.planning.fleet_portfolio`); ``False``: the reduction arm alone."""


def reduce_budget(limit_s: float, successes: list[float], tune: PyvrpTuning) -> float:
    """Budget of the next vehicle-reduction attempt, given how long the successful ones took.

    The last attempt always fails (that is how the reduction ends), so its budget is lost to
    the final phase: a quarter of the limit, which at 5 s on 400 customers left the final
    phase too little time. The first attempt gets ``reduce_share`` of the limit; later ones
    ``reduce_grow`` times the longest success so far (an attempt that takes ten times longer
    than every success before it rarely succeeds), within ``[reduce_min_share,
    reduce_share]`` of the limit.
    """
    hi = tune.reduce_share * limit_s
    if tune.reduce_grow <= 0 or not successes:
        return hi
    lo = min(hi, tune.reduce_min_share * limit_s)
    return min(hi, max(lo, tune.reduce_grow * max(successes)))


Start = Literal["best", "first", "cold"]


def final_fleet(
    customers: int,
    routes: int,
    vehicles: int,
    tune: PyvrpTuning,
    restart: int = 0,
    saved: int = 1,
) -> tuple[int, float, Start]:
    """Vehicles, fixed-cost multiplier and start of one run of the final phase with
    ``routes`` routes to keep: ``"best"`` (warm from the best so far), ``"first"`` (warm from
    the first phase's solution, more routes but shorter) or ``"cold"``; ``restart`` counts
    the restarts after a stall (0: the first run). Every run is capped at ``routes``
    (:attr:`PyvrpSearch.max_routes`): it never returns more.

    - No reduction (``saved`` 0): bare PyVRP's own search goes on (whole fleet, plain fixed
      cost, from the first phase): at equal vehicles it is not behind bare PyVRP
      (gen-C1-400-s1 at 30 s was 0.51 % behind when handed the spare-vehicle problem).
    - Up to ``slack_above`` customers: exactly ``routes`` vehicles, warm from the reduced
      solution (that beat a cold start on the bench's R1/RC1 instances).
    - Above, one vehicle saved: the same as without a reduction, from the first phase's
      shorter solution, keeping the best solution within ``routes`` it meets (the reduced
      one if it never gets there). The reduction's first feasible solution is 20-30 % longer
      on 400 customers and the search from it stalls (gen-RC1-400 at 47 vehicles: 5.9 %
      behind bare PyVRP, which got there by itself).
    - Above, more saved: bare PyVRP's search does not come down that far in time, so warm
      from the reduced solution, with the whole fleet at ``slack_fixed_factor`` times the
      fixed cost: spare vehicles at a high price let it pass through one more route and come
      back (with exactly ``routes`` vehicles it stalled: gen-R1-400 the same distance after
      2.75 s and 4 s).

    Restarts alternate: odd ones start cold with exactly ``routes`` vehicles (another basin:
    RC201 from 1436.53 to 1413.52 at 30 s), even ones warm from the best with spare vehicles
    at ``slack_fixed_factor`` times the fixed cost (a cold start found no better 18-vehicle
    rc1_2_1 in three tries).
    """
    if restart % 2 == 1:
        return routes, 1.0, "cold"
    if restart > 0 or (customers > tune.slack_above and saved > 1):
        return vehicles, tune.slack_fixed_factor, "best"
    if saved == 0 or customers > tune.slack_above:
        return vehicles, 1.0, "first"
    return routes, 1.0, "best"


def restart_stall(limit_s: float, tune: PyvrpTuning, customers: int = 0) -> float | None:
    """How long the final phase may go without a better solution before it restarts.

    Warm-started from the reduction's first feasible solution with exactly its vehicles, the
    search can settle for good: RC201 (4 vehicles) ended at 1415.84 after 4 s and again
    after 25 s of final phase. A fresh search (another seed, random start) is the way out.
    At least ``restart_stall_share`` of the limit and a second per 25 customers (a
    400-customer search still improves after 4.5 s without progress: restarted that early,
    gen-RC1-400 ended 2.3 % behind bare PyVRP at 30 s); ``None`` (share 0) never restarts.
    """
    if tune.restart_stall_share <= 0:
        return None
    return max(tune.restart_stall_min_s, tune.restart_stall_share * limit_s, customers / 25)


def _problem(
    inst: SolomonInstance, vehicles: int, fixed_cost: int, scale: int = SCALE
) -> RoutingProblem:
    """The instance with ``vehicles`` identical vehicles, arcs scaled by ``scale``."""
    d = inst.distance_matrix()
    service = np.rint(inst.service * scale).astype(np.int64)
    return RoutingProblem(
        cost=np.rint(d * scale).astype(np.int64),
        travel=np.ceil(d * scale - 1e-6).astype(np.int64) + service[:, None],
        starts=[0] * vehicles,
        ends=[0] * vehicles,
        window_lo=np.rint(inst.ready * scale).astype(np.int64),
        window_hi=np.rint(inst.due * scale).astype(np.int64),
        capacities=[inst.capacity] * vehicles,
        demand=np.rint(inst.demand).astype(np.int64),
        fixed_cost=fixed_cost,
        start_load=[None] * vehicles,
    )


def solve_vrptw(
    inst: SolomonInstance,
    time_limit_s: float,
    tuning: VrptwTuning | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
    engine: Engine = DEFAULT_ENGINE,
    pyvrp_tuning: PyvrpTuning | None = None,
) -> VrptwResult:
    """Best routes found within ``time_limit_s`` (vehicles first, then distance).

    ``engine``: ``"pyvrp"`` (default) or ``"ortools"``; ``tuning`` applies to OR-Tools,
    ``pyvrp_tuning`` to PyVRP.
    """
    if engine == "pyvrp":
        return _solve_pyvrp(inst, time_limit_s, pyvrp_tuning or PyvrpTuning(), cancel, progress)
    if engine != "ortools":
        raise ValidationError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    tune = tuning or VrptwTuning()
    t_end = system_monotonic() + time_limit_s
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
    attempt = 0
    while len(best) > 1 and system_monotonic() < t_end - 0.1:
        if cancel is not None and cancel.is_set():
            break
        if attempt >= min(tune.elimination_tries, len(best)):
            log.append(f"cannot go below {len(best)} routes")
            break
        by_size = sorted(range(len(best)), key=lambda i: (len(best[i]), i))
        fewer = _eliminate_route(
            inst,
            best,
            by_size[attempt],
            fixed,
            min(tune.reduce_share * time_limit_s, t_end - system_monotonic()),
            cancel,
            tune,
        )
        if fewer is None:
            attempt += 1
            continue
        best, attempt = fewer, 0
        log.append(f"reduced: {len(best)} routes {inst.route_distance(best):.2f}")
    gls_s = tune.final_gls_share * (t_end - system_monotonic())
    if gls_s > 0.05 and not (cancel is not None and cancel.is_set()):
        polished = solve_routing(
            _problem(inst, len(best), fixed), tune.search(gls_s), best, cancel, progress
        )
        if polished.routes is not None:
            cand = [r for r in polished.routes if r]
            if (len(cand), inst.route_distance(cand)) < (len(best), inst.route_distance(best)):
                best = cand
        log.append(f"gls: {len(best)} routes {inst.route_distance(best):.2f}")
    if not (cancel is not None and cancel.is_set()):
        best = _ruin_and_recreate(inst, best, fixed, t_end, tune, cancel, progress)
        log.append(f"final: {len(best)} routes {inst.route_distance(best):.2f}")
    return VrptwResult(best, inst.route_distance(best), len(best), tuple(log), "ortools")


def _ruin_and_recreate(
    inst: SolomonInstance,
    routes: list[list[int]],
    fixed: int,
    t_end: float,
    tune: VrptwTuning,
    cancel: CancelToken | None,
    progress: ProgressCallback | None,
) -> list[list[int]]:
    """Until ``t_end``: remove a seed customer's nearest neighbours, let a short GLS put them
    back (warm start, drop penalty), keep the result only if it is shorter.

    Guided local search alone stagnates on long routes; measured with 10 s of construction
    and elimination then 20 s of improvement, R201 ended at +2.37 % (GLS) vs +0.31 % (this),
    RC201 +2.05 % vs +0.47 %, r1_2_1 +3.82 % vs +2.10 %, R101 +0.30 % for both.
    """
    d = inst.distance_matrix()
    n = inst.customers
    size = max(5, min(tune.ruin_max, round(tune.ruin_share * n)))
    step = tune.ruin_step_s if tune.ruin_step_s else (0.3 if n <= 120 else 0.5)
    rng = random.Random(tune.seed)
    drop = int(SCALE * float(d.max()) * tune.drop_factor)
    best, best_d = routes, inst.route_distance(routes)
    t0 = system_monotonic()
    while system_monotonic() < t_end - 0.05:
        if cancel is not None and cancel.is_set():
            break
        seed = rng.randint(1, n)
        ruined = {int(c) for c in np.argsort(d[seed])[: size + 1]} - {0}
        partial = [[c for c in r if c not in ruined] for r in best]
        problem = _problem(inst, len(best), fixed)
        problem.drop_penalty = drop
        budget = min(step, t_end - system_monotonic())
        out = solve_routing(problem, tune.search(budget, wide=True), partial, cancel)
        if out.routes is None or sum(len(r) for r in out.routes) < n:
            continue
        cand = [r for r in out.routes if r]
        cand_d = inst.route_distance(cand)
        if len(cand) <= len(best) and cand_d < best_d - 1e-9:
            best, best_d = cand, cand_d
            if progress is not None:
                progress(best_d * SCALE + fixed * len(best), system_monotonic() - t0)
    return best


def _eliminate_route(
    inst: SolomonInstance,
    routes: list[list[int]],
    drop: int,
    fixed: int,
    time_limit_s: float,
    cancel: CancelToken | None,
    tune: VrptwTuning,
) -> list[list[int]] | None:
    """Serve every customer without route ``drop``; ``None`` if not found in time."""
    k = len(routes) - 1
    initial = [r for i, r in enumerate(routes) if i != drop]
    problem = _problem(inst, k, fixed)
    problem.drop_penalty = int(SCALE * float(inst.distance_matrix().max()) * tune.drop_factor)
    out = solve_routing(problem, tune.search(max(0.05, time_limit_s), wide=True), initial, cancel)
    if out.routes is None:
        return None
    served = sum(len(r) for r in out.routes)
    if served < inst.customers:
        return None
    return [r for r in out.routes if r]


def _solve_pyvrp(
    inst: SolomonInstance,
    time_limit_s: float,
    tune: PyvrpTuning,
    cancel: CancelToken | None,
    progress: ProgressCallback | None,
) -> VrptwResult:
    """The reduction arm alone, or beside the plain arm (:mod:`.fleet_portfolio`): the
    reduction arm in a forked child at a lower priority, the plain arm (one PyVRP search of
    the whole fleet for the whole limit, bare PyVRP's) here, with the progress reports."""
    from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp

    t0 = system_monotonic()
    t_end = t0 + time_limit_s
    fixed = int(tune.fixed_cost_factor * float(inst.distance_matrix()[0].max()) * 2 * tune.scale)
    whole = _problem(inst, inst.vehicles, fixed, tune.scale)
    beside = None
    if tune.portfolio and can_run_beside():
        shifted = replace(tune, seed=tune.seed + ARM_SEED_SHIFT)
        arm_limit = time_limit_s - MARGIN_S

        def arm(stop: CancelToken, report: Report) -> tuple[list[list[int]], list[str]]:
            return _reduction_arm(inst, t0, arm_limit, shifted, fixed, whole, stop, None, report)

        beside = run_beside(arm, t0 + arm_limit, REDUCTION_NICE)
    if beside is None:
        best, log = _reduction_arm(inst, t0, time_limit_s, tune, fixed, whole, cancel, progress)
        return _pick(inst, [Answer(REDUCTION, best)], log)
    search = PyvrpSearch(t_end - system_monotonic(), tune.seed)
    out = solve_pyvrp(whole, search, None, cancel, progress)
    plain = [r for r in out.routes or [] if r]
    got = beside.collect(cancel)
    best, log = got if got is not None else ([], [])
    if beside.status != "ok":  # late: its last report, if any
        log.append(f"reduction arm: {beside.status}")
    log.append(f"plain arm: {len(plain)} routes {inst.route_distance(plain):.2f}")
    return _pick(inst, [Answer(REDUCTION, best), Answer(PLAIN, plain or None)], log)


def _pick(inst: SolomonInstance, answers: list[Answer], log: list[str]) -> VrptwResult:
    """The answer :func:`choose` picks (the first one when none checks out, as before)."""
    won = choose(inst, answers) or answers[0]
    if not won.routes:
        return VrptwResult([], float("inf"), 0, tuple(log))
    if len(answers) > 1:
        log.append(f"kept: {won.engine}")
    routes = [r for r in won.routes if r]
    return VrptwResult(routes, inst.route_distance(routes), len(routes), tuple(log), won.engine)


def _reduction_arm(
    inst: SolomonInstance,
    t0: float,
    time_limit_s: float,
    tune: PyvrpTuning,
    fixed: int,
    whole: RoutingProblem,
    cancel: CancelToken | None,
    progress: ProgressCallback | None,
    report: Report | None = None,
) -> tuple[list[list[int]], list[str]]:
    """Whole fleet, then one vehicle fewer while that stays feasible, then distance; the
    routes (``[]`` if none) and the phase log. ``report`` gets ``(routes, log)`` after the
    first phase and each reduction (what the portfolio keeps if this arm runs late)."""
    from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp

    t_end = t0 + time_limit_s
    sc = tune.scale
    bound = max(1, math.ceil(float(inst.demand.sum()) / max(inst.capacity, 1)))
    log: list[str] = []

    def note(what: str, routes: list[list[int]]) -> None:
        at = system_monotonic() - t0
        log.append(f"{what}: {len(routes)} routes {inst.route_distance(routes):.2f} at {at:.1f} s")
        if report is not None and what in ("first", "reduced"):
            report((routes, list(log)))

    def stopped() -> bool:
        return (cancel is not None and cancel.is_set()) or system_monotonic() >= t_end - 0.05

    first = solve_pyvrp(
        whole, PyvrpSearch(time_limit_s * tune.first_share, tune.seed), None, cancel, progress
    )
    if first.routes is None and not stopped():  # hard to satisfy: any feasible answer first
        search = PyvrpSearch(t_end - system_monotonic(), tune.seed + 1, stop_at_first_feasible=True)
        first = solve_pyvrp(whole, search, cancel=cancel, progress=progress)
    if first.routes is None:
        log.append("no first solution")
        return [], log
    best = first_routes = [r for r in first.routes if r]
    note("first", best)
    attempt = 0
    successes: list[float] = []
    while len(best) > bound and not stopped():
        attempt += 1
        budget = min(reduce_budget(time_limit_s, successes, tune), t_end - system_monotonic())
        search = PyvrpSearch(budget, tune.seed + attempt, stop_at_first_feasible=True)
        fewer = _problem(inst, len(best) - 1, fixed, sc)
        out = solve_pyvrp(fewer, search, None, cancel, progress)
        if out.routes is None:
            log.append(f"cannot go below {len(best)} routes ({out.elapsed_s:.1f} s)")
            break
        successes.append(out.elapsed_s)
        best = [r for r in out.routes if r]
        note("reduced", best)
    if not stopped():
        best = _final_phase(
            inst, best, time_limit_s, t_end, tune, fixed, cancel, progress, note, first_routes
        )
    return best, log


def _final_phase(
    inst: SolomonInstance,
    best: list[list[int]],
    time_limit_s: float,
    t_end: float,
    tune: PyvrpTuning,
    fixed: int,
    cancel: CancelToken | None,
    progress: ProgressCallback | None,
    note: Callable[[str, list[list[int]]], None],
    first: list[list[int]],
) -> list[list[int]]:
    """Distance with the vehicles reached, until ``t_end``; a stalled search restarts
    (:func:`final_fleet`, :func:`restart_stall`). Never returns more routes than ``best``."""
    from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp

    restart, saved = 0, len(first) - len(best)
    while system_monotonic() < t_end - 0.05 and not (cancel is not None and cancel.is_set()):
        k = len(best)
        fleet, mult, start = final_fleet(inst.customers, k, inst.vehicles, tune, restart, saved)
        search = PyvrpSearch(
            t_end - system_monotonic(),
            tune.seed + restart,
            stall_s=restart_stall(time_limit_s, tune, inst.customers),
            max_routes=k,
        )
        problem = _problem(inst, fleet, int(fixed * mult), tune.scale)
        initial = {"best": best, "first": first, "cold": None}[start]
        out = solve_pyvrp(problem, search, initial, cancel, progress)
        if out.routes is not None:
            cand = [r for r in out.routes if r]
            if (len(cand), inst.route_distance(cand)) < (k, inst.route_distance(best)):
                best = cand
        note(f"restart {restart}" if restart else "final", best)
        if not out.converged:
            break
        restart += 1
    return best


def run_solve(
    path: Path,
    time_limit: float,
    as_json: bool,
    out: TextIO,
    engine: str = "pyvrp",
    portfolio: bool = True,
) -> int:
    """``dispatcher solve INSTANCE --time-limit S [--json] [--engine E]``; the exit code.

    Prints vehicles, total distance (unrounded Euclidean), the arm that found the routes and
    the routes, or with ``as_json`` one object ``{"vehicles", "distance", "engine",
    "routes"}`` (customer numbers, depot omitted). ``portfolio``: ``[planning] portfolio``.
    """
    inst = read_solomon(path)
    if not time_limit > 0:
        raise ValidationError("the time limit must be positive")
    tuning = PyvrpTuning(portfolio=portfolio)
    result = solve_vrptw(inst, time_limit, engine=cast(Engine, engine), pyvrp_tuning=tuning)
    routes = [r for r in result.routes if r]
    distance = inst.route_distance(routes)
    if as_json:
        doc = {"vehicles": len(routes), "distance": distance, "engine": result.engine}
        json.dump({**doc, "routes": routes}, out)
        out.write("\n")
    else:
        out.write(f"instance {inst.name}\nvehicles {len(routes)}\ndistance {distance:.2f}\n")
        out.write(f"engine {result.engine or 'none'}\n")
        for k, r in enumerate(routes, 1):
            out.write(f"route {k}: {' '.join(map(str, r))}\n")
    problems = inst.check(routes)
    return 0 if not problems else 2
