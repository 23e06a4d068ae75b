"""The one place that talks to OR-Tools: an array-level routing problem and its solve.

Both the dispatcher's optimizer (:mod:`dispatcher.planning.optimize`) and the Solomon solver
(:mod:`dispatcher.planning.vrptw`) translate their world into a :class:`RoutingProblem` in
integer solver units; this module builds the OR-Tools model with matrices registered through
``RegisterTransitMatrix`` (no Python callbacks in the hot loop) and runs the search.

Objective: distance, or per-vehicle costs (:mod:`dispatcher.planning.costs`): one arc-cost
matrix per distinct distance weight, the time dimension's span at each vehicle's duration
weight (its start cumul free within its window, maximised by the finalizer: leave late
rather than wait) and per-vehicle fixed costs.

Cancellation: OR-Tools holds the GIL while it searches, so another thread cannot interrupt it;
the cancel event is checked in the at-solution callback, which guided local search calls many
times per second, and the search is then stopped with ``CancelSearch``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from dispatcher.clock import system_monotonic

IntArray = npt.NDArray[np.int64]
ProgressCallback = Callable[[float, float], None]
"""``progress(best_objective, elapsed_s)``, called on every improving solution (objective in
solver units: scaled distance, or the vehicles' costs, plus penalties)."""


class CancelToken(Protocol):
    """``threading.Event`` or ``multiprocessing.Event``: anything with ``is_set()``."""

    def is_set(self) -> bool: ...


FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic


@dataclass(slots=True)
class RoutingProblem:
    """A vehicle routing problem in integer solver units.

    Node ``starts[v]``/``ends[v]`` are vehicle ``v``'s start and end; every other node is a
    stop. ``travel[i, j]`` is the time from *starting service* at ``i`` to arriving at ``j``
    (service time of ``i`` included). Windows bound the service start.
    """

    cost: IntArray
    travel: IntArray
    starts: list[int]
    ends: list[int]
    window_lo: IntArray
    window_hi: IntArray
    capacities: list[int]
    demand: IntArray
    pickup: IntArray | None = None
    start_load: list[int | None] = field(default_factory=list)
    late_penalty: int | None = None
    fixed_cost: int = 0
    allowed: dict[int, list[int]] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    ranks: dict[int, int] = field(default_factory=dict)
    groups: list[list[int]] = field(default_factory=list)
    drop_penalty: int | None = None
    horizon: int | None = None
    distance_cost: list[int] = field(default_factory=list)
    duration_cost: list[int] = field(default_factory=list)
    vehicle_fixed: list[int] = field(default_factory=list)
    extra_demand: IntArray | None = None
    """Weight and volume delivered per node, shape ``(n, 2)`` (``None``: count only)."""
    extra_pickup: IntArray | None = None
    """Weight and volume picked up per node, shape ``(n, 2)``."""
    extra_capacities: list[list[int]] = field(default_factory=list)
    """Weight and volume limit per vehicle (a very large number where unlimited)."""
    pairs: list[tuple[int, int]] = field(default_factory=list)
    """Paired (pickup node, delivery node): one vehicle, pickup first; the goods are not
    loaded at the start nor carried to the end."""
    max_duration: list[int | None] = field(default_factory=list)
    """Longest route per vehicle, leaving to coming back (``None``: unlimited)."""
    breaks: list[tuple[int, int, int] | None] = field(default_factory=list)
    """Per vehicle, the break's earliest start, latest start and duration (or ``None``)."""
    service: IntArray | None = None
    """Service time per node (already inside ``travel``); a break may not cut into it."""
    profile_arcs: list[tuple[IntArray, IntArray]] = field(default_factory=list)
    """``(cost, travel)`` per road profile of a mixed fleet (vans and cargo bikes); empty:
    ``cost`` and ``travel`` time every vehicle."""
    vehicle_profile: list[int] = field(default_factory=list)
    """Per vehicle, its index in :attr:`profile_arcs` (empty with one profile)."""

    @property
    def n_vehicles(self) -> int:
        return len(self.starts)

    @property
    def mixed(self) -> bool:
        """Vehicles timed on different matrices (one per road profile)."""
        return len(self.profile_arcs) > 1 and len(self.vehicle_profile) == self.n_vehicles

    def profile_of(self, v: int) -> int:
        """Vehicle ``v``'s road profile (0 with one profile)."""
        return self.vehicle_profile[v] if self.mixed else 0

    def arcs_of(self, v: int) -> tuple[IntArray, IntArray]:
        """Vehicle ``v``'s ``(cost, travel)`` matrices."""
        if self.mixed:
            return self.profile_arcs[self.vehicle_profile[v]]
        return self.cost, self.travel

    def distance_weight(self, v: int) -> int:
        """Objective units per unit of ``cost`` for vehicle ``v``."""
        return int(self.distance_cost[v]) if self.distance_cost else 1

    def duration_weight(self, v: int) -> int:
        """Objective units per time unit of vehicle ``v``'s route duration."""
        return int(self.duration_cost[v]) if self.duration_cost else 0

    def fixed_of(self, v: int) -> int:
        """Objective units for using vehicle ``v``."""
        return int(self.fixed_cost) + (int(self.vehicle_fixed[v]) if self.vehicle_fixed else 0)

    def max_duration_of(self, v: int) -> int | None:
        return self.max_duration[v] if v < len(self.max_duration) else None

    def break_of(self, v: int) -> tuple[int, int, int] | None:
        return self.breaks[v] if v < len(self.breaks) else None

    @property
    def paired_pickups(self) -> set[int]:
        return {a for a, _ in self.pairs}

    @property
    def stops(self) -> list[int]:
        """Node numbers that are stops (neither a start nor an end)."""
        special = set(self.starts) | set(self.ends)
        return [i for i in range(len(self.cost)) if i not in special]


@dataclass(frozen=True, slots=True)
class SearchParams:
    """How long and how to search."""

    time_limit_s: float = 5.0
    first_solution: int = FIRST_SOLUTION.PARALLEL_CHEAPEST_INSERTION
    metaheuristic: int = METAHEURISTIC.GUIDED_LOCAL_SEARCH
    neighbors_ratio: float = 1.0
    min_neighbors: int = 1
    gls_lambda: float = 0.1
    log: bool = False


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """Routes (stop nodes per vehicle, start/end excluded) and how the search went."""

    routes: list[list[int]] | None
    objective: float
    cancelled: bool
    elapsed_s: float
    converged: bool = False
    """The search stopped because it no longer improved, before its time limit."""


class _Model:
    """Builds the OR-Tools model of a :class:`RoutingProblem`."""

    def __init__(self, p: RoutingProblem) -> None:
        self.p = p
        n = len(p.cost)
        self.manager = pywrapcp.RoutingIndexManager(n, p.n_vehicles, p.starts, p.ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        r = self.routing
        self._costs()
        self._time()
        self._load()
        self._extra_loads()
        self._locks()
        self._pairs()
        if p.drop_penalty is not None:
            locked = set(p.ranks) | set(p.first.values())
            for node in p.stops:
                if node in locked:  # pinned / in-progress stops are never dropped
                    continue
                r.AddDisjunction([self.manager.NodeToIndex(node)], int(p.drop_penalty))

    def idx(self, node: int) -> int:
        return int(self.manager.NodeToIndex(node))

    def _costs(self) -> None:
        """Arc costs and fixed costs; one matrix per distinct per-vehicle distance weight and
        road profile."""
        p, r = self.p, self.routing
        if not (p.distance_cost or p.vehicle_fixed or p.mixed):
            r.SetArcCostEvaluatorOfAllVehicles(r.RegisterTransitMatrix(p.cost.tolist()))
            if p.fixed_cost:
                r.SetFixedCostOfAllVehicles(int(p.fixed_cost))
            return
        evaluators: dict[tuple[int, int], int] = {}
        for v in range(p.n_vehicles):
            key = (p.distance_weight(v), p.profile_of(v))
            if key not in evaluators:
                cost = p.arcs_of(v)[0]
                evaluators[key] = r.RegisterTransitMatrix((cost * key[0]).tolist())
            r.SetArcCostEvaluatorOfVehicle(evaluators[key], v)
            if p.fixed_of(v):
                r.SetFixedCostOfVehicle(p.fixed_of(v), v)

    def _time(self) -> None:
        p, r = self.p, self.routing
        horizon = int(p.horizon) if p.horizon is not None else int(max(p.window_hi.max(), 1))
        if p.mixed:  # each vehicle on its own road profile's times
            cbs = [r.RegisterTransitMatrix(t.tolist()) for _, t in p.profile_arcs]
            transits = [cbs[p.profile_of(v)] for v in range(p.n_vehicles)]
            r.AddDimensionWithVehicleTransits(transits, horizon, horizon, False, "time")
        else:
            cb = r.RegisterTransitMatrix(p.travel.tolist())
            r.AddDimension(cb, horizon, horizon, False, "time")
        self.time = r.GetDimensionOrDie("time")
        for node in p.stops:
            var = self.time.CumulVar(self.idx(node))
            lo, hi = int(p.window_lo[node]), int(p.window_hi[node])
            if p.late_penalty is None:
                var.SetRange(lo, hi)
            else:
                var.SetMin(lo)
                self.time.SetCumulVarSoftUpperBound(self.idx(node), hi, int(p.late_penalty))
        for v in range(p.n_vehicles):
            start, end = r.Start(v), r.End(v)
            self.time.CumulVar(start).SetRange(
                int(p.window_lo[p.starts[v]]), int(p.window_hi[p.starts[v]])
            )
            hi_end = int(p.window_hi[p.ends[v]])
            if p.late_penalty is None:
                self.time.CumulVar(end).SetMax(hi_end)
            else:
                self.time.SetCumulVarSoftUpperBound(end, hi_end, int(p.late_penalty))
            if p.duration_weight(v):  # the route's span costs: leave late, not wait
                self.time.SetSpanCostCoefficientForVehicle(p.duration_weight(v), v)
                r.AddVariableMaximizedByFinalizer(self.time.CumulVar(start))
            else:
                r.AddVariableMinimizedByFinalizer(self.time.CumulVar(start))
            r.AddVariableMinimizedByFinalizer(self.time.CumulVar(end))
            longest = p.max_duration_of(v)
            if longest is not None:
                self.time.SetSpanUpperBoundForVehicle(int(longest), v)
        self._breaks()

    def _breaks(self) -> None:
        """Driver breaks as OR-Tools break intervals (never inside a stop's service)."""
        p, r = self.p, self.routing
        if not any(b is not None for b in p.breaks):
            return
        service = p.service if p.service is not None else np.zeros(len(p.cost), dtype=np.int64)
        visit = [int(service[self.manager.IndexToNode(i)]) for i in range(r.Size())]
        visit += [0] * (r.Size() + p.n_vehicles - len(visit))
        solver = r.solver()
        for v in range(p.n_vehicles):
            brk = p.break_of(v)
            if brk is None:
                continue
            lo, hi, dur = brk
            interval = solver.FixedDurationIntervalVar(int(lo), int(hi), int(dur), False, f"b{v}")
            self.time.SetBreakIntervalsOfVehicle([interval], v, visit[: r.Size()])

    def _load(self) -> None:
        p, r = self.p, self.routing
        caps = [int(c) for c in p.capacities]
        if p.pickup is None and not any(s is not None for s in p.start_load):
            cb = r.RegisterUnaryTransitVector(p.demand.tolist())
            r.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "load")
            return
        # Deliveries are loaded at the start, pickups carried to the end: the on-board load
        # starts at (deliveries on the route) or the live load, and changes by -d / +p.
        pickup = p.pickup if p.pickup is not None else np.zeros_like(p.demand)
        delta = (pickup - p.demand).tolist()
        load_cb = r.RegisterUnaryTransitVector(delta)
        r.AddDimensionWithVehicleCapacity(load_cb, 0, caps, False, "load")
        carried = pickup.copy()
        carried[list(p.paired_pickups)] = 0  # paired goods leave at their delivery
        picked_cb = r.RegisterUnaryTransitVector(carried.tolist())
        r.AddDimensionWithVehicleCapacity(
            picked_cb, 0, [max(1, sum(carried.tolist()))] * len(caps), True, "picked"
        )
        load, picked = r.GetDimensionOrDie("load"), r.GetDimensionOrDie("picked")
        solver = r.solver()
        for v in range(p.n_vehicles):
            start_load = p.start_load[v] if v < len(p.start_load) else None
            if start_load is not None:
                load.CumulVar(r.Start(v)).SetValue(int(start_load))
            else:
                solver.Add(load.CumulVar(r.End(v)) == picked.CumulVar(r.End(v)))

    def _extra_loads(self) -> None:
        """Weight and volume: loaded at the start, dropped at deliveries, picked up and
        carried to the end (paired goods only between their stops), as the count's load."""
        p, r = self.p, self.routing
        if p.extra_demand is None:
            return
        pickup = p.extra_pickup if p.extra_pickup is not None else np.zeros_like(p.extra_demand)
        solver = r.solver()
        for j, name in enumerate(("weight", "volume")):
            caps = [int(c[j]) for c in p.extra_capacities]
            delta = (pickup[:, j] - p.extra_demand[:, j]).tolist()
            r.AddDimensionWithVehicleCapacity(
                r.RegisterUnaryTransitVector(delta), 0, caps, False, name
            )
            carried = pickup[:, j].copy()
            carried[list(p.paired_pickups)] = 0
            r.AddDimensionWithVehicleCapacity(
                r.RegisterUnaryTransitVector(carried.tolist()),
                0,
                [max(1, int(carried.sum()))] * len(caps),
                True,
                f"{name} picked",
            )
            load = r.GetDimensionOrDie(name)
            picked = r.GetDimensionOrDie(f"{name} picked")
            for v in range(p.n_vehicles):
                solver.Add(load.CumulVar(r.End(v)) == picked.CumulVar(r.End(v)))

    def _pairs(self) -> None:
        """Paired pickup and delivery: one vehicle, pickup first, both served or neither."""
        p, r = self.p, self.routing
        solver = r.solver()
        for a, b in p.pairs:
            ia, ib = self.idx(a), self.idx(b)
            r.AddPickupAndDelivery(ia, ib)
            solver.Add(r.VehicleVar(ia) == r.VehicleVar(ib))
            solver.Add(r.ActiveVar(ia) == r.ActiveVar(ib))
            solver.Add(self.time.CumulVar(ia) <= self.time.CumulVar(ib))

    def _locks(self) -> None:
        p, r = self.p, self.routing
        solver = r.solver()
        # WORKAROUND: SetAllowedVehiclesForIndex rejects every Python sequence in 9.15 (SWIG
        # absl::Span binding); restricting the vehicle variable's domain is equivalent.
        for node, vehicles in p.allowed.items():
            values = [int(v) for v in vehicles] + ([-1] if p.drop_penalty is not None else [])
            r.VehicleVar(self.idx(node)).SetValues(values)
        for v, node in p.first.items():
            solver.Add(r.NextVar(r.Start(v)) == self.idx(node))
        if not (p.ranks or p.groups):
            return
        ones = [1] * len(p.cost)
        rank_cb = r.RegisterUnaryTransitVector(ones)
        r.AddDimension(rank_cb, 0, len(p.cost) + 1, True, "rank")
        rank = r.GetDimensionOrDie("rank")
        for node, k in p.ranks.items():
            rank.CumulVar(self.idx(node)).SetValue(int(k))
        for group in p.groups:
            for a, b in itertools.pairwise(group):
                ia, ib = self.idx(a), self.idx(b)
                solver.Add(r.VehicleVar(ia) == r.VehicleVar(ib))
                solver.Add(rank.CumulVar(ia) < rank.CumulVar(ib))

    def routes_of(self, assignment: pywrapcp.Assignment) -> list[list[int]]:
        r, out = self.routing, []
        for v in range(self.p.n_vehicles):
            route, i = [], assignment.Value(r.NextVar(r.Start(v)))
            while not r.IsEnd(i):
                route.append(int(self.manager.IndexToNode(i)))
                i = assignment.Value(r.NextVar(i))
            out.append(route)
        return out


def solve_routing(
    problem: RoutingProblem,
    params: SearchParams,
    initial: list[list[int]] | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> RoutingOutcome:
    """Solve ``problem``, warm-started from ``initial`` routes (stop nodes) when they fit."""
    t0 = system_monotonic()
    model = _Model(problem)
    r = model.routing
    cancelled = False

    def at_solution() -> None:
        nonlocal cancelled
        if progress is not None:
            progress(float(r.CostVar().Value()), system_monotonic() - t0)
        if cancel is not None and cancel.is_set():
            cancelled = True
            r.CancelSearch()

    r.AddAtSolutionCallback(at_solution)
    sp = pywrapcp.DefaultRoutingSearchParameters()
    sp.first_solution_strategy = params.first_solution
    sp.local_search_metaheuristic = params.metaheuristic
    sp.log_search = params.log
    sp.ls_operator_neighbors_ratio = params.neighbors_ratio
    sp.ls_operator_min_neighbors = params.min_neighbors
    sp.guided_local_search_lambda_coefficient = params.gls_lambda
    remaining = max(0.01, params.time_limit_s - (system_monotonic() - t0))
    sp.time_limit.FromMilliseconds(int(remaining * 1000))
    start = None
    if initial is not None:
        start = r.ReadAssignmentFromRoutes([[model.idx(n) for n in rt] for rt in initial], True)
    if cancel is not None and cancel.is_set():
        return RoutingOutcome(None, float("inf"), True, system_monotonic() - t0)
    if start is not None:
        sol = r.SolveFromAssignmentWithParameters(start, sp)
    else:
        sol = r.SolveWithParameters(sp)
    elapsed = system_monotonic() - t0
    if sol is None:
        return RoutingOutcome(None, float("inf"), cancelled, elapsed)
    return RoutingOutcome(model.routes_of(sol), float(sol.ObjectiveValue()), cancelled, elapsed)
