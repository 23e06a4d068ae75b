"""Optimize one route or the whole fleet, honouring every lock, as a previewable result.

The dispatcher never gets routes applied behind their back: :func:`optimize` returns an
:class:`OptimizationResult` with before/after evaluations, the stops that moved and its own
validation (locks + feasibility). Applying it is an undoable :class:`ReplaceRoutes` command.

Model: each vehicle starts at its live position at the current time with its current load;
the fixed prefix (done stops) is left out and an in-progress stop is forced first. Deliveries
are loaded at the depot, pickups carried back (see :mod:`dispatcher.planning.routing`).
The search is warm-started from :func:`~dispatcher.planning.initial.initial_routes`. Windows
and shift ends are hard when that start is on time; otherwise (a live day that already went
wrong, or a badly ordered route) they are soft with a lateness cost, and as the last resort
stops may be left unassigned at a high penalty, so the dispatcher always gets a plan and the
reasons it is not clean (:meth:`OptimizationResult.problems`).

Travel times in the solver use the speed profile's mean factor over the vehicles' shifts
(OR-Tools matrices cannot depend on time); the preview's "after" figures come from the exact
time-dependent evaluator.

Objective: distance, unless the vehicles have costs (``cost_per_km``, ``cost_per_hour``,
``fixed_cost``): then money, each vehicle at its own rates, its route's duration counted
from leaving to coming back, waiting included (:mod:`dispatcher.planning.costs` gives the
integer conversion; penalties are scaled with it). A vehicle at the depot may then leave
later rather than wait; one on the road is on the clock from now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from dispatcher.clock import system_monotonic
from dispatcher.errors import ValidationError
from dispatcher.eta.travel import TravelMatrix
from dispatcher.model.core import StopKind, StopStatus
from dispatcher.planning.commands import ReplaceRoutes
from dispatcher.planning.constraints import (
    can_serve,
    pairs_of,
    schedule_violations,
    structural_violations,
)
from dispatcher.planning.costs import SolverCosts, solver_costs
from dispatcher.planning.evaluate import EvaluationDiff, PlanEvaluation, diff, evaluate_plan
from dispatcher.planning.initial import initial_routes
from dispatcher.planning.locks import group_members, lock_violations
from dispatcher.planning.model import FloatArray, Plan, PlanMatrix, PlanVehicle
from dispatcher.planning.portfolio import portfolio
from dispatcher.planning.routing import (
    CancelToken,
    ProgressCallback,
    RoutingOutcome,
    RoutingProblem,
    SearchParams,
    solve_routing,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OptimizeOptions:
    """What to optimize and how hard.

    Attributes:
        time_limit_s: Wall-clock budget of the whole call.
        vehicle_ids: Routes to optimize (one for "resequence this route"); ``None`` = fleet.
        include_unassigned: Also plan the unassigned stops (fleet optimization).
        scale: Solver units per second and per metre (integer arcs).
        vehicle_fixed_cost: Cost of using a vehicle, in distance units (metres; on top of the
            vehicles' own ``fixed_cost``).
        late_cost_per_s: Distance-equivalent cost of one second late in the soft fallback.
        drop_cost: Distance-equivalent cost of leaving a stop unassigned (last resort).
        engine: Fleet scope (several vehicles): ``"auto"`` = PyVRP where it can express the
            locks, with OR-Tools as the fallback (:func:`optimize_fleet`);
            ``"ortools"`` = OR-Tools only. One vehicle keeps the resequencing path.
    """

    time_limit_s: float = 5.0
    vehicle_ids: tuple[str, ...] | None = None
    include_unassigned: bool = True
    scale: float = 10.0
    vehicle_fixed_cost: float = 0.0
    late_cost_per_s: float = 100.0
    drop_cost: float = 1e7
    engine: str = "auto"


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """A preview: proposed routes, before/after, what moved, and whether it is sound."""

    routes: dict[str, list[str]]
    unassigned: list[str]
    before: PlanEvaluation
    after: PlanEvaluation
    moved: list[str]
    changed_vehicle: list[str]
    mode: str
    cancelled: bool
    elapsed_s: float
    lock_problems: list[str] = field(default_factory=list)
    base_versions: dict[str, int] = field(default_factory=dict)
    engine: str = "ortools"
    """Whose plan this is: ``"pyvrp"``, ``"ortools"`` or ``"local"`` (one route's search)."""
    ortools_status: str = ""
    """On a resequence (both engines ran, :mod:`dispatcher.planning.portfolio`): how
    OR-Tools did against the local search: ``"better"``, ``"worse"``, ``"no route"``,
    ``"timeout"``, ``"failed"`` or ``"no time"``; empty elsewhere."""
    converged: bool = False
    """The search ended because it stopped improving, before the time limit (a small day
    does not make the dispatcher wait for the whole limit)."""
    constraint_problems: list[str] = field(default_factory=list)
    """Skills and pairs the routes break that the plan did not break before (hard, like the
    locks; :func:`dispatcher.planning.constraints.structural_violations`). The schedule's
    constraints (weight, volume, duration, break) are in :attr:`after`."""

    @property
    def diff(self) -> EvaluationDiff:
        """Totals after minus before."""
        return diff(self.before, self.after)

    @property
    def honours_locks(self) -> bool:
        return not self.lock_problems and not self.constraint_problems

    @property
    def feasible(self) -> bool:
        """Every lock honoured, every stop planned, no lateness, overtime or overload."""
        return self.honours_locks and self.after.feasible

    def problems(self) -> list[str]:
        """Reasons this preview is not clean (empty when :attr:`feasible`)."""
        out = list(self.lock_problems)
        out += self.constraint_problems
        if self.unassigned:
            out.append(f"{len(self.unassigned)} stops left unassigned")
        for vid, ev in self.after.routes.items():
            if ev.late_stops:
                out.append(f"{vid}: {ev.late_stops} late stops")
            if ev.overtime > 1e-9:
                out.append(f"{vid}: {ev.overtime / 60:.0f} min overtime")
            if ev.overload > 0:
                out.append(f"{vid}: overloaded by {ev.overload:g}")
            if ev.shortfall > 0:
                out.append(f"{vid}: delivers {ev.shortfall:g} more than it has on board")
            out += [p for p in schedule_violations(vid, ev) if "over capacity" not in p]
        return out

    def summary(self) -> str:
        """One line for the preview dialog."""
        return f"{len(self.moved)} stops moved; {self.diff.summary()}"

    def changes_by_vehicle(self, before: Mapping[str, Sequence[str]]) -> dict[str, str]:
        """What happens to each vehicle's route against ``before`` (the routes shown now), in
        words: "+3 / −1 stops, 4 reordered", "unchanged". A preview of a whole fleet names
        vehicles, not a list of 150 order numbers."""
        out = {}
        for vid, after in self.routes.items():
            was = list(before.get(vid, ()))
            was_set, now_set = set(was), set(after)
            gained, lost = len(now_set - was_set), len(was_set - now_set)
            kept_now = [s for s in after if s in was_set]
            kept_was = [s for s in was if s in now_set]
            reordered = sum(1 for a, b in zip(kept_now, kept_was, strict=True) if a != b)
            parts = []
            if gained or lost:
                parts.append(f"+{gained} / −{lost} stops")
            if reordered:
                parts.append(f"{reordered} reordered")
            out[vid] = ", ".join(parts) or "unchanged"
        return out

    def command(self) -> ReplaceRoutes:
        """The undoable command that applies this preview (stale if a route changed since)."""
        return ReplaceRoutes(self.routes, self.unassigned, self.base_versions)


@dataclass(slots=True)
class SolverModel:
    """A plan as solver nodes: the problem, node ↔ stop maps, done prefixes, warm start."""

    problem: RoutingProblem
    vehicle_ids: list[str]
    node_stop: dict[int, str]
    prefixes: dict[str, list[str]]
    initial: list[list[int]]
    free_unassigned: list[str]
    costs: SolverCosts | None = None

    @property
    def penalty_factor(self) -> int:
        """What one distance-equivalent unit of a penalty is worth in the objective."""
        return 1 if self.costs is None else self.costs.penalty_factor


def _selected(plan: Plan, options: OptimizeOptions) -> list[str]:
    vids = list(options.vehicle_ids) if options.vehicle_ids is not None else list(plan.vehicles)
    for v in vids:
        if v not in plan.vehicles:
            raise ValidationError(f"unknown vehicle {v}")
    if not vids:
        raise ValidationError("no vehicle to optimize")
    return vids


def build_model(plan: Plan, pm: PlanMatrix, options: OptimizeOptions) -> SolverModel:
    """The solver's view of ``plan`` in ``options``' scope (shared by both engines)."""
    vids = _selected(plan, options)
    vehicles = [plan.vehicles[v] for v in vids]
    prefixes = {v: [s for s in plan.routes[v] if plan.stops[s].status.is_final] for v in vids}
    pending = {v: [s for s in plan.routes[v] if not plan.stops[s].status.is_final] for v in vids}
    extra = (
        list(plan.unassigned) if options.include_unassigned and options.vehicle_ids is None else []
    )
    stops = [s for v in vids for s in pending[v]] + extra
    nv = len(vids)
    src = (
        [pm.start_node[v] for v in vids]
        + [pm.end_node.get(v, -1) for v in vids]
        + [pm.stop_node[s] for s in stops]
    )
    node_stop = {2 * nv + i: s for i, s in enumerate(stops)}
    idx = np.asarray(src, dtype=np.int64)
    t_lo = min(v.departure for v in vehicles)
    t_hi = max(v.shift_end for v in vehicles)
    sc = options.scale
    svc = np.array([0.0] * (2 * nv) + [plan.stops[s].service_s for s in stops])
    roads = _road_arcs(pm, vids, idx, svc, t_lo, t_hi, sc)
    cost, travel = roads[0][1]
    finite_we = [plan.stops[s].window_end for s in stops if np.isfinite(plan.stops[s].window_end)]
    horizon_t = max([t_hi, *finite_we]) + 86_400.0
    lo, hi = _windows(plan, vehicles, node_stop, len(src), horizon_t)
    lo = np.maximum(lo - t_lo, 0.0)
    hi = np.maximum(hi - t_lo, 0.0)
    stop_of = [plan.stops[s] for s in stops]
    demand = np.array(
        [0] * (2 * nv) + [s.demand if s.kind is StopKind.DELIVERY else 0 for s in stop_of]
    )
    pickup = np.array(
        [0] * (2 * nv) + [s.demand if s.kind is StopKind.PICKUP else 0 for s in stop_of]
    )
    general = bool(pickup.any()) or any(v.on_road for v in vehicles)
    costs = solver_costs(vehicles, sc)
    penalty = 1 if costs is None else costs.penalty_factor
    problem = RoutingProblem(
        cost=cost,
        travel=travel,
        starts=list(range(nv)),
        ends=list(range(nv, 2 * nv)),
        window_lo=np.ceil(lo * sc - 1e-9).astype(np.int64),
        window_hi=np.floor(hi * sc).astype(np.int64),
        capacities=[v.capacity for v in vehicles],
        demand=demand.astype(np.int64),
        pickup=pickup.astype(np.int64) if general else None,
        start_load=[_start_load(plan, v, pending[v.id]) for v in vehicles],
        fixed_cost=int(options.vehicle_fixed_cost * sc) * penalty,
        horizon=int(np.ceil((horizon_t - t_lo) * sc)),
    )
    if len(roads) > 1:  # a mixed fleet: each vehicle on its road profile's times
        problem.profile_arcs = [arcs for _, arcs in roads]
        keys = [key for key, _ in roads]
        problem.vehicle_profile = [keys.index(pm.profile_key(v)) for v in vids]
    if costs is not None:
        _cost(problem, vehicles, costs)
    _add_locks(plan, problem, vids, pending, node_stop)
    add_constraints(plan, problem, vehicles, node_stop, t_lo, sc)
    node_of = {s: n for n, s in node_stop.items()}
    initial = [[node_of[s] for s in pending[v]] for v in vids]
    return SolverModel(problem, vids, node_stop, prefixes, initial, extra, costs)


def _cost(problem: RoutingProblem, vehicles: list[PlanVehicle], costs: SolverCosts) -> None:
    """Put the vehicles' costs on ``problem``. A vehicle on the road is on the clock from
    now: its start is fixed (at the depot the start may move within the shift)."""
    problem.distance_cost = list(costs.distance)
    problem.duration_cost = list(costs.duration)
    problem.vehicle_fixed = list(costs.fixed)
    for k, v in enumerate(vehicles):
        if v.start_time is not None:
            start = problem.starts[k]
            problem.window_hi[start] = problem.window_lo[start]


def _road_arcs(
    pm: PlanMatrix,
    vids: list[str],
    idx: npt.NDArray[np.int64],
    svc: FloatArray,
    t_lo: float,
    t_hi: float,
    sc: float,
) -> list[tuple[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]]:
    """Cost and travel matrices per road profile of the vehicles in scope, the first
    vehicle's first (one entry for a fleet of one profile, as before)."""
    out: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
    for v in vids:
        key = pm.profile_key(v)
        if key not in out:
            matrix = pm.matrix_of(v)
            out[key] = _arcs(matrix, idx, svc, matrix.profile.mean_factor(t_lo, t_hi), sc)
    return list(out.items())


def _arcs(
    matrix: TravelMatrix, idx: npt.NDArray[np.int64], svc: FloatArray, factor: float, sc: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Integer cost (distance) and travel (time incl. service at the origin) matrices.

    ``idx`` maps model nodes to matrix nodes; ``-1`` is an open route's dummy end, free to
    reach. Travel times are rounded up so the solver never promises what exact time breaks.
    """
    dist = matrix.distance[np.ix_(idx, idx)].copy()
    dur = matrix.duration[np.ix_(idx, idx)] * factor
    open_end = idx < 0
    for m in (dist, dur):
        m[:, open_end] = 0.0
        m[open_end, :] = 0.0
    travel = np.ceil(dur * sc - 1e-6).astype(np.int64) + np.rint(svc * sc).astype(np.int64)[:, None]
    return np.rint(dist * sc).astype(np.int64), travel


def _windows(
    plan: Plan,
    vehicles: list[PlanVehicle],
    node_stop: dict[int, str],
    n: int,
    horizon_t: float,
) -> tuple[FloatArray, FloatArray]:
    """Plan-time bounds per node: departure..shift end for starts/ends, windows for stops."""
    nv = len(vehicles)
    lo, hi = np.zeros(n), np.full(n, horizon_t)
    for k, v in enumerate(vehicles):
        for node in (k, nv + k):
            lo[node], hi[node] = v.departure, max(v.shift_end, v.departure)
    for node, sid in node_stop.items():
        lo[node] = plan.stops[sid].window_start
        hi[node] = min(plan.stops[sid].window_end, horizon_t)
    return lo, hi


def _start_load(plan: Plan, vehicle: PlanVehicle, pending: list[str]) -> int | None:
    """Live load, raised to the deliveries still on the route if the report is too low.

    A vehicle cannot deliver what it does not carry; a reported load below that is a
    miscount, and trusting it would make every plan infeasible.
    """
    if vehicle.current_load is None:
        return None
    owed = sum(plan.stops[s].demand for s in pending if plan.stops[s].kind is StopKind.DELIVERY)
    return max(vehicle.current_load, owed)


def _add_locks(
    plan: Plan,
    problem: RoutingProblem,
    vids: list[str],
    pending: dict[str, list[str]],
    node_stop: dict[int, str],
) -> None:
    node_of = {s: n for n, s in node_stop.items()}
    on_road = [k for k, v in enumerate(vids) if plan.vehicles[v].on_road]
    everyone = list(range(len(vids)))
    for k, v in enumerate(vids):
        for pos, sid in enumerate(pending[v]):
            stop, node = plan.stops[sid], node_of[sid]
            on_board = plan.vehicles[v].on_road and stop.kind is StopKind.DELIVERY
            if stop.status is StopStatus.ARRIVED:
                problem.first[k] = node
                problem.allowed[node] = [k]
            elif stop.pinned:
                problem.allowed[node] = [k]
                problem.ranks[node] = pos + 1
            elif stop.keep_vehicle or on_board:
                problem.allowed[node] = [k]
    if on_road:
        not_on_road = [k for k in everyone if k not in on_road]
        for node, sid in node_stop.items():
            if plan.stops[sid].kind is StopKind.DELIVERY and node not in problem.allowed:
                problem.allowed[node] = not_on_road
    for members in group_members(plan).values():
        nodes = [node_of[s] for s in members if s in node_of]
        if len(nodes) > 1:
            problem.groups.append(nodes)
    for node, allowed in problem.allowed.items():
        if not allowed:
            raise ValidationError(f"stop {node_stop[node]} has no vehicle it may go on")


UNLIMITED = 1 << 40
"""A weight or volume limit that does not limit (solver integers, never summed past)."""


def add_constraints(
    plan: Plan,
    problem: RoutingProblem,
    vehicles: list[PlanVehicle],
    node_stop: dict[int, str],
    t_lo: float,
    sc: float,
) -> None:
    """Skills, weight and volume, pairs, maximum duration and breaks onto ``problem`` (the
    rules of :mod:`dispatcher.planning.constraints`, in solver units).

    Skills narrow each stop's allowed vehicles (every engine honours ``allowed``); a pair is
    kept only when both its stops are in the model (half a pair in scope stays where it is:
    the other half's vehicle is fixed to it).
    """
    n = len(problem.cost)
    everyone = list(range(len(vehicles)))
    for node, sid in node_stop.items():
        stop = plan.stops[sid]
        if not stop.skills:
            continue
        able = [k for k, v in enumerate(vehicles) if can_serve(v, stop)]
        allowed = [k for k in problem.allowed.get(node, everyone) if k in able]
        if allowed:
            problem.allowed[node] = allowed
        else:  # nobody in scope can: it stays where it is, and the preview says so
            log.debug("stop %s: no vehicle in scope has %s", sid, sorted(stop.skills))
    stops = {sid: node for node, sid in node_stop.items()}
    if any(plan.stops[s].weight or plan.stops[s].volume for s in stops):
        demand, pickup = np.zeros((n, 2), np.int64), np.zeros((n, 2), np.int64)
        for sid, node in stops.items():
            stop = plan.stops[sid]
            row = pickup if stop.kind is StopKind.PICKUP else demand
            row[node] = (stop.weight, stop.volume)
        problem.extra_demand, problem.extra_pickup = demand, pickup
        problem.extra_capacities = [
            [UNLIMITED if c is None else int(c) for c in (v.max_weight, v.max_volume)]
            for v in vehicles
        ]
    for key, (pick, drop) in pairs_of(plan).items():
        if pick in stops and drop in stops:
            a, b = stops[pick], stops[drop]
            if a in problem.first.values() or b in problem.first.values():
                continue  # in progress: its partner's order is already decided
            problem.pairs.append((a, b))
            problem.demand[b] = plan.stops[drop].demand  # dropped where it was picked up
        elif (pick in stops) != (drop in stops):
            log.debug("pair %s is half in scope; its stop keeps its vehicle", key)
    problem.max_duration = [
        None if v.max_duration_s is None else int(v.max_duration_s * sc) for v in vehicles
    ]
    problem.breaks = [_break(v, t_lo, sc) for v in vehicles]
    if any(b is not None for b in problem.breaks):
        svc = np.zeros(n, np.int64)
        for sid, node in stops.items():
            svc[node] = round(plan.stops[sid].service_s * sc)
        problem.service = svc


def _break(vehicle: PlanVehicle, t_lo: float, sc: float) -> tuple[int, int, int] | None:
    """The break window and duration in solver units, ``None`` when none is due."""
    if not vehicle.has_break or vehicle.break_window is None:
        return None
    lo, hi = vehicle.break_window
    if vehicle.start_time is not None and vehicle.start_time > hi:
        return None  # the evaluator's rule: taken already
    lo_u = max(0, int(np.ceil((lo - t_lo) * sc)))
    return lo_u, max(lo_u, int((hi - t_lo) * sc)), int(np.ceil(vehicle.break_s * sc))


def optimize(
    plan: Plan,
    pm: PlanMatrix,
    options: OptimizeOptions | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> OptimizationResult:
    """Propose better routes for ``options.vehicle_ids`` (or the fleet) within the time limit.

    Args:
        plan: Current plan (not modified).
        pm: Its travel matrix (see :meth:`PlanMatrix.build`).
        options: Scope, time limit, costs.
        cancel: Set it from the UI thread to stop early; the best routes so far are returned.
        progress: Called with ``(best_objective, elapsed_s)`` on every improvement.
    """
    opts = options or OptimizeOptions()
    scope = opts.vehicle_ids if opts.vehicle_ids is not None else plan.vehicles
    if opts.engine != "ortools" and len(scope) > 1:  # whole fleet: PyVRP, OR-Tools fallback
        return optimize_fleet(plan, pm, opts, cancel, progress)
    build = build_model(plan, pm, opts)
    late = max(1, int(opts.late_cost_per_s)) * build.penalty_factor
    drop = int(opts.drop_cost * opts.scale) * build.penalty_factor
    start = initial_routes(plan, pm, build.vehicle_ids, build.free_unassigned)
    if start is None:  # many unassigned: the solver's construction heuristic
        initial = None
        attempts = [("hard", None, None), ("soft", late, None), ("soft+drop", late, drop)]
    else:
        node_of = {s: n for n, s in build.node_stop.items()}
        routes, on_time = start
        initial = [
            [node_of[s] for s in routes[v] if not plan.stops[s].status.is_final]
            for v in build.vehicle_ids
        ]
        attempts = [("hard", None, None)] if on_time else []
        attempts += [("soft", late, None), ("soft+drop", late, drop)]
    outcome: RoutingOutcome | None = None
    mode, elapsed = "unchanged", 0.0
    if start is not None and initial is not None and len(build.vehicle_ids) == 1:
        # The local search reserves a break's time but cannot place it: with a break, half
        # the limit goes to OR-Tools' exact break model when the portfolio's route has the
        # break late (:mod:`dispatcher.planning.constraints`).
        timed = build.problem.break_of(0) is not None
        share = 0.5 if timed else 1.0
        both = portfolio(  # resequencing one route: local search and OR-Tools side by side
            build.problem, initial[0], start[1], opts.time_limit_s * share, late, cancel, progress
        )
        if both is not None and timed:
            trial = preview_of(plan, pm, build, both.outcome, mode="hard", elapsed=0.0)
            if any(ev.break_late > 1e-9 for ev in trial.after.routes.values()):
                elapsed, both = both.outcome.elapsed_s, None
        if both is not None:
            mode = "hard" if both.on_time else "soft"
            result = preview_of(
                plan, pm, build, both.outcome, mode=mode, elapsed=both.outcome.elapsed_s
            )
            return replace(result, engine=both.engine, ortools_status=both.ortools_status)
    for name, late_penalty, drop_penalty in attempts:
        build.problem.late_penalty = late_penalty
        build.problem.drop_penalty = drop_penalty
        budget = max(0.05, opts.time_limit_s - elapsed)
        out = solve_routing(build.problem, SearchParams(budget), initial, cancel, progress)
        elapsed += out.elapsed_s
        if out.routes is not None or (out.cancelled and outcome is None):
            outcome, mode = out, name
            break
    return preview_of(plan, pm, build, outcome, mode=mode, elapsed=elapsed)


def preview_of(
    plan: Plan,
    pm: PlanMatrix,
    build: SolverModel,
    outcome: RoutingOutcome | None,
    *,
    mode: str,
    elapsed: float,
) -> OptimizationResult:
    """The preview of ``outcome`` (the current routes when there is none), checked exactly."""
    vids = build.vehicle_ids
    if outcome is None or outcome.routes is None:
        routes = {v: list(plan.routes[v]) for v in vids}
        mode = "unchanged"
    else:
        routes = {
            v: build.prefixes[v] + [build.node_stop[n] for n in outcome.routes[k]]
            for k, v in enumerate(vids)
        }
    planned = {s for r in routes.values() for s in r}
    scope = [s for v in vids for s in plan.routes[v]]
    unassigned = [s for s in plan.unassigned if s not in planned]
    unassigned += [s for s in scope if s not in planned]
    after_plan = plan.copy()
    after_plan.routes.update(routes)
    after_plan.unassigned = unassigned
    before = _subset(evaluate_plan(pm, plan), vids, len(plan.unassigned))
    after = _subset(evaluate_plan(pm, after_plan), vids, len(unassigned))
    old_pos = {s: (v, i) for v in vids for i, s in enumerate(plan.routes[v])}
    new_pos = {s: (v, i) for v, r in routes.items() for i, s in enumerate(r)}
    return OptimizationResult(
        routes=routes,
        unassigned=unassigned,
        before=before,
        after=after,
        moved=[s for s in new_pos if old_pos.get(s) != new_pos[s]],
        changed_vehicle=[s for s in new_pos if old_pos.get(s, ("", 0))[0] != new_pos[s][0]],
        mode=mode,
        cancelled=outcome is not None and outcome.cancelled,
        elapsed_s=elapsed,
        converged=outcome is not None and outcome.converged,
        lock_problems=lock_violations(plan, routes, unassigned),
        constraint_problems=_new(structural_violations(plan, routes), plan),
        base_versions={v: plan.versions.get(v, 0) for v in vids},
    )


def _new(problems: list[str], plan: Plan) -> list[str]:
    """The skill and pair violations the plan did not already have: an optimization of a
    scope that cannot mend an old one (a route resequenced with an order no vehicle in scope
    can serve) may still be applied, it makes nothing worse."""
    before = set(structural_violations(plan, {}))
    return [p for p in problems if p not in before]


def _subset(ev: PlanEvaluation, vids: list[str], unassigned: int) -> PlanEvaluation:
    return PlanEvaluation({v: ev.routes[v] for v in vids}, unassigned)


# -- the whole fleet: PyVRP first, OR-Tools where PyVRP cannot go --------------------------
#
# The model is the same :class:`~dispatcher.planning.routing.RoutingProblem` the OR-Tools path
# builds (live starts, windows, capacities, pickups and deliveries, live loads, shift ends,
# vehicle restrictions); :mod:`dispatcher.planning.pyvrp_engine` translates it.
#
# How locks are handled:
#
# - done prefix: left out of the model, put back in front (as for OR-Tools);
# - in-progress stop: the vehicle starts at that stop when its service starts (exact);
# - ``keep_vehicle``, pinned stops' vehicles, deliveries on board of a vehicle on the road and
#   "no new deliveries for a vehicle on the road": vehicle restrictions, encoded as travel
#   profiles in which the forbidden stops cannot be reached in time;
# - pinned positions and order groups: PyVRP has no position or precedence constraint, and
#   repairing its routes afterwards would undo what it optimized, so any plan with a pin or a
#   group among the stops to plan goes to OR-Tools, which encodes both exactly. (Pins and groups
#   are the exception on a fleet run; the common case gets the better engine.)
#
# Every PyVRP answer is checked like the OR-Tools one (:func:`lock_violations`, the exact
# time-dependent evaluator). It is kept only if it honours every lock and is feasible there;
# otherwise OR-Tools runs with the time left and the better of the two sound answers is
# returned. PyVRP gives up after 40 % of the limit without any feasible solution (e.g. a day
# that already went wrong, where only soft windows give a plan), leaving the rest to OR-Tools'
# soft-window and drop fallbacks. When PyVRP used the whole limit, OR-Tools still gets a short
# try (:data:`FALLBACK_MIN_S`): it used to get a quarter of the limit, which made "Optimize
# fleet" take 12.6 s for a 10-s limit; no call may overrun its limit by more than 0.5 s.

GIVE_UP_SHARE = 0.4
"""Share of the time limit after which PyVRP without any feasible solution hands over."""
FALLBACK_MIN_S = 0.3
"""OR-Tools gets at least this long (or the time left) when PyVRP's answer is not sound."""


def optimize_fleet(
    plan: Plan,
    pm: PlanMatrix,
    options: OptimizeOptions,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> OptimizationResult:
    """PyVRP when it can express the problem and its answer is sound, else OR-Tools.

    PyVRP (:mod:`dispatcher.planning.pyvrp_engine`) is imported on the first fleet run only:
    evaluating a drag or resequencing a route never loads it.
    """
    t0 = system_monotonic()  # the first run's import of PyVRP (~0.4 s) counts against the limit
    from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp, stall_for, unsupported

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
    left = max(0.05, limit - (system_monotonic() - t0))  # the model took some of it
    search = PyvrpSearch(left, give_up_s=GIVE_UP_SHARE * limit, stall_s=stall)
    out = solve_pyvrp(build.problem, search, initial, cancel, progress)
    elapsed = system_monotonic() - t0
    candidate = None
    if out.routes is not None:
        candidate = preview_of(plan, pm, build, out, mode="hard", elapsed=elapsed)
        candidate = replace(candidate, engine="pyvrp")
        if candidate.honours_locks and (candidate.feasible or out.cancelled):
            return candidate
    budget = max(limit - elapsed, min(FALLBACK_MIN_S, limit))
    fallback = optimize(plan, pm, replace(ortools, time_limit_s=budget), cancel, progress)
    best = fallback
    if candidate is not None and candidate.honours_locks:
        best = min((candidate, fallback), key=_badness)
    return replace(best, elapsed_s=system_monotonic() - t0)


def _badness(r: OptimizationResult) -> tuple[int, int, float, float, float, float]:
    """Order of preference between two lock-honouring previews: then money (0 for a fleet
    without costs), then distance."""
    late = sum(ev.late_stops for ev in r.after.routes.values())
    short = sum(ev.overload + ev.shortfall for ev in r.after.routes.values())
    overtime = sum(ev.overtime for ev in r.after.routes.values())
    return (len(r.unassigned), late, float(short), overtime, r.after.cost, r.after.distance)
