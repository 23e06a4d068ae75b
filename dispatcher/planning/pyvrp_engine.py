"""The one place that talks to PyVRP: solve a :class:`RoutingProblem` with its iterated local
search (the successor of its hybrid genetic search, HGS).

Why a second engine: on whole-fleet VRPTW, OR-Tools (tuned: parallel cheapest insertion,
guided local search, route elimination, ruin and recreate) stays 1-2 points of distance and
often a vehicle behind PyVRP at equal time (figures in docs/planning.md). PyVRP searches
through infeasible solutions with adaptive penalties, which is what finds the fewer-vehicle
solutions of tight instances.

What PyVRP can express of a :class:`RoutingProblem`, and how:

- windows, capacities, service times, shift ends, per-vehicle starts and ends (every distinct
  start or end node is a depot; identical vehicles share a vehicle type);
- deliveries loaded at the start and pickups carried to the end (PyVRP's own load model);
  a live start load as ``initial_load`` = start load minus the deliveries the vehicle must
  make, which is exact only when those deliveries are fixed to it (see :func:`unsupported`);
- vehicle restrictions (``allowed``): one travel profile per distinct restriction, in which
  forbidden stops cannot be reached in time, so no feasible solution uses them;
- a mixed fleet's road profiles (``profile_arcs``: a cargo bike's bicycle times beside a
  van's car times): one PyVRP profile per road profile and restriction;
- the in-progress stop (``first``): the vehicle starts *at* that stop when its service
  starts, with the stop's row of the matrices (its service time is in ``travel``);
- drop penalties: optional clients with that prize;
- per-vehicle costs (:mod:`dispatcher.planning.costs`): ``unit_distance_cost``,
  ``unit_duration_cost`` (PyVRP's route duration runs from the start, which may move within
  ``[tw_early, start_late]``, to the end, waiting included, as OR-Tools' span) and
  ``fixed_cost``; vehicles differing in any of them are different vehicle types. Without
  costs every vehicle has PyVRP's defaults (1 per distance unit, 0 per time unit).

Constraints (:mod:`dispatcher.planning.constraints`): weight and volume are PyVRP load
dimensions 2 and 3; skills are vehicle restrictions (``allowed``, above); the maximum route
duration is the vehicle type's ``shift_duration``. PyVRP 0.14 has no breaks: the break's
duration is *reserved* (taken off the latest return and the maximum duration), and the
optimizer checks the answer with the exact evaluator, which places the break; an answer whose
break falls late goes to OR-Tools, which models breaks exactly. Paired pickup and delivery
(precedence) is not expressible and goes to OR-Tools like order groups.

Not expressible: pinned ranks and order groups (PyVRP has no position or precedence
constraints) and soft windows (PyVRP's time warp is a search penalty, never an accepted
solution). :func:`unsupported` says so, and callers use OR-Tools for those problems.

Service times are already in ``travel`` (time from starting service at ``i`` to arriving at
``j``), so clients get a zero service duration: the schedule is the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pyvrp import (
    Client,
    Depot,
    IteratedLocalSearch,
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    Location,
    ProblemData,
    Route,
    Solution,
    SolveParams,
    VehicleType,
    solve,
)

from dispatcher.clock import system_monotonic
from dispatcher.planning.routing import (
    CancelToken,
    IntArray,
    ProgressCallback,
    RoutingOutcome,
    RoutingProblem,
)

UNREACHABLE = 1 << 40
"""Travel time and distance to a stop a vehicle may not serve (PyVRP's limit is 2**44)."""
PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True, slots=True)
class PyvrpSearch:
    """How long and how PyVRP searches.

    Attributes:
        time_limit_s: Wall-clock budget.
        seed: Random seed (runs repeat exactly with the same seed and limits).
        stop_at_first_feasible: Stop as soon as a feasible solution is found (fleet reduction).
        give_up_s: Stop if nothing feasible was found after this long (lets a caller fall back).
        stall_s: Stop once the best feasible cost has not improved for this long: the search
            has converged (a 30-stop day converges in a second or two; running on to the full
            limit only makes the dispatcher wait). ``None``: always use the whole budget.
    """

    time_limit_s: float
    seed: int = 1
    stop_at_first_feasible: bool = False
    give_up_s: float | None = None
    stall_s: float | None = None
    max_routes: int | None = None
    """Return the best feasible solution with at most this many routes that the search met
    on its way (any iteration's candidate), even when a solution with more routes has a
    lower objective: the fleet planner's final phase searches with slack vehicles but keeps
    the vehicle count it reached."""


def stall_for(stops: int, time_limit_s: float) -> float:
    """How long without improvement means "converged" for a day of ``stops`` stops: about a
    second per 25 stops, at least 1 s, never more than half the budget."""
    return min(max(1.0, stops / 25), time_limit_s / 2)


def unsupported(problem: RoutingProblem) -> str | None:
    """Why PyVRP cannot solve ``problem`` exactly, ``None`` if it can."""
    if problem.ranks:
        return "pinned positions"
    if problem.groups:
        return "order groups"
    if problem.pairs:
        return "paired pickup and delivery"
    if problem.late_penalty is not None:
        return "soft time windows"
    for v, load in enumerate(problem.start_load):
        if load is not None and _free_deliveries(problem, v):
            return "a vehicle on the road that could take deliveries it does not carry"
    return None


def _free_deliveries(problem: RoutingProblem, v: int) -> list[int]:
    """Deliveries vehicle ``v`` may take that are not fixed to it."""
    return [
        n
        for n in problem.stops
        if problem.demand[n] > 0
        and v in problem.allowed.get(n, [v])
        and problem.allowed.get(n) != [v]
    ]


class _Translation:
    """A :class:`RoutingProblem` as PyVRP ``ProblemData``, and the way back.

    Locations: one per depot (distinct start/end nodes, plus a virtual start per vehicle that
    is at its in-progress stop), then one per client (every other stop node).
    """

    def __init__(self, p: RoutingProblem) -> None:
        self.p = p
        firsts = set(p.first.values())
        self.clients = [n for n in p.stops if n not in firsts]
        self.depot_rows: list[int] = []  # matrix row (node) each depot location copies
        self.depot_of_node: dict[int, int] = {}
        self.start_depot: list[int] = []
        self.end_depot: list[int] = []
        for v in range(p.n_vehicles):
            if v in p.first:  # starts at its in-progress stop: a depot of its own
                self.start_depot.append(self._new_depot(p.first[v]))
            else:
                self.start_depot.append(self._depot(p.starts[v]))
        for v in range(p.n_vehicles):
            self.end_depot.append(self._depot(p.ends[v]))
        self.type_vehicles: list[list[int]] = []
        self.profile_of: list[int] = []
        self.data = self._data()

    def _depot(self, node: int) -> int:
        if node not in self.depot_of_node:
            self.depot_of_node[node] = self._new_depot(node)
        return self.depot_of_node[node]

    def _new_depot(self, node: int) -> int:
        self.depot_rows.append(node)
        return len(self.depot_rows) - 1

    def _matrices(self) -> tuple[list[IntArray], list[IntArray], list[int]]:
        """Distance and duration matrices per PyVRP profile, and each vehicle's profile.

        A PyVRP profile is a road profile (a cargo bike's bicycle times beside a van's car
        times) with a vehicle restriction applied. Profile 0 is always the first road
        profile unrestricted (PyVRP may build its neighbourhoods from it).
        """
        p = self.p
        idx = np.asarray(self.depot_rows + self.clients, dtype=np.int64)
        nd = len(self.depot_rows)
        roads = p.profile_arcs if p.mixed else [(p.cost, p.travel)]
        dists: list[IntArray] = []
        durs: list[IntArray] = []
        seen: dict[tuple[int, tuple[int, ...]], int] = {}

        def add(road: int, banned: tuple[int, ...]) -> int:
            if (road, banned) not in seen:
                cost, travel = roads[road]
                d = cost[np.ix_(idx, idx)].astype(np.int64)
                t = travel[np.ix_(idx, idx)].astype(np.int64)
                for m in (d, t):
                    m[:, list(banned)] = UNREACHABLE
                    m[list(banned), :] = UNREACHABLE
                    np.fill_diagonal(m, 0)
                seen[(road, banned)] = len(dists)
                dists.append(d)
                durs.append(t)
            return seen[(road, banned)]

        add(0, ())
        profile_of = []
        for v in range(p.n_vehicles):
            banned = tuple(
                nd + i
                for i, n in enumerate(self.clients)
                if n in p.allowed and v not in p.allowed[n]
            )
            profile_of.append(add(p.profile_of(v), banned))
        return dists, durs, profile_of

    def _data(self) -> ProblemData:
        p = self.p
        dists, durs, profile_of = self._matrices()
        horizon = int(p.horizon) if p.horizon is not None else int(max(p.window_hi.max(), 1))
        locations = [Location(0.0, 0.0) for _ in range(len(self.depot_rows) + len(self.clients))]
        depots = [Depot(i, tw_early=0, tw_late=horizon) for i in range(len(self.depot_rows))]
        nd = len(depots)
        clients = [
            Client(
                nd + i,
                delivery=[int(p.demand[n]), *self._extra(p.extra_demand, n)],
                pickup=[
                    int(p.pickup[n]) if p.pickup is not None else 0,
                    *self._extra(p.extra_pickup, n),
                ],
                tw_early=int(p.window_lo[n]),
                tw_late=int(p.window_hi[n]),
                prize=int(p.drop_penalty or 0),
                required=p.drop_penalty is None,
            )
            for i, n in enumerate(self.clients)
        ]
        self.profile_of = profile_of
        types: dict[tuple[int, ...], list[int]] = {}
        for v in range(p.n_vehicles):
            types.setdefault(self._type_key(v), []).append(v)
        vehicle_types = []
        for members in types.values():
            self.type_vehicles.append(members)
            vehicle_types.append(self._vehicle_type(members[0], len(members)))
        # pyvrp's stub spells the matrices ``np.ndarray[int]``, which numpy's typing rejects.
        return ProblemData(locations, clients, depots, vehicle_types, dists, durs)  # type: ignore[arg-type]  # stub

    def _extra(self, table: IntArray | None, n: int) -> list[int]:
        """Weight and volume of node ``n`` (nothing when the problem counts only units)."""
        if self.p.extra_demand is None:
            return []
        return [0, 0] if table is None else [int(x) for x in table[n]]

    def _capacity(self, v: int) -> list[int]:
        p = self.p
        if p.extra_demand is None:
            return [int(p.capacities[v])]
        return [int(p.capacities[v]), *(int(c) for c in p.extra_capacities[v])]

    def _durations(self, v: int) -> tuple[int, int | None]:
        """Latest return and maximum duration, the break's duration reserved from both."""
        p = self.p
        brk = p.break_of(v)
        reserve = 0 if brk is None else int(brk[2])
        longest = p.max_duration_of(v)
        return (
            int(p.window_hi[p.ends[v]]) - reserve,
            None if longest is None else max(0, int(longest) - reserve),
        )

    def _type_key(self, v: int) -> tuple[int, ...]:
        """Vehicles with equal keys are interchangeable: one PyVRP vehicle type."""
        p = self.p
        return (
            self.start_depot[v],
            self.end_depot[v],
            int(p.capacities[v]),
            *self._start_window(v),
            int(p.window_hi[p.ends[v]]),
            self.profile_of[v],
            self._initial_load(v),
            p.distance_weight(v),
            p.duration_weight(v),
            p.fixed_of(v),
            *self._capacity(v),
            *(-1 if x is None else x for x in self._durations(v)),
        )

    def _start_window(self, v: int) -> tuple[int, int]:
        """Earliest and latest start; at an in-progress stop, when its service starts."""
        p = self.p
        lo, hi = int(p.window_lo[p.starts[v]]), int(p.window_hi[p.starts[v]])
        if v not in p.first:
            return lo, hi
        f = p.first[v]
        begin = max(lo + int(p.arcs_of(v)[1][p.starts[v], f]), int(p.window_lo[f]))
        return begin, begin

    def _initial_load(self, v: int) -> int:
        """On-board load PyVRP carries besides the deliveries of the route (see module doc)."""
        p = self.p
        load = p.start_load[v] if v < len(p.start_load) else None
        if load is None:
            return 0
        owed = sum(int(p.demand[n]) for n in self.clients if p.allowed.get(n) == [v])
        if v in p.first:
            f = p.first[v]
            pickup = int(p.pickup[f]) if p.pickup is not None else 0
            load += pickup - int(p.demand[f])
        return max(0, load - owed)

    def _vehicle_type(self, v: int, count: int) -> VehicleType:
        p = self.p
        early, start_late = self._start_window(v)
        latest, longest = self._durations(v)
        extra = [0, 0] if p.extra_demand is not None else []
        return VehicleType(
            count,
            capacity=self._capacity(v),
            start_depot=self.start_depot[v],
            end_depot=self.end_depot[v],
            fixed_cost=p.fixed_of(v),
            unit_distance_cost=p.distance_weight(v),
            unit_duration_cost=p.duration_weight(v),
            tw_early=early,
            start_late=min(start_late, max(latest, early)),
            tw_late=max(latest, early),
            shift_duration=longest if longest is not None else np.iinfo(np.int64).max,
            profile=self.profile_of[v],
            initial_load=[self._initial_load(v), *extra],
        )

    def solution(self, routes: list[list[int]]) -> Solution:
        """Our routes (stop nodes per vehicle) as a PyVRP solution (may be infeasible);
        vehicles past the end of ``routes`` stay empty (a warm start with fewer routes than
        vehicles used to raise here and the search silently started cold)."""
        col = {n: i for i, n in enumerate(self.clients)}
        out = []
        for t, members in enumerate(self.type_vehicles):
            for v in members:
                visits = [col[n] for n in (routes[v] if v < len(routes) else []) if n in col]
                if visits:
                    out.append(Route(self.data, visits, t))
        return Solution(self.data, out)

    def routes(self, sol: Solution) -> list[list[int]]:
        """A PyVRP solution as stop nodes per vehicle, in-progress stops put back first."""
        free = [list(m) for m in self.type_vehicles]
        out: list[list[int]] = [[] for _ in range(self.p.n_vehicles)]
        for route in sol.routes():
            v = free[route.vehicle_type()].pop(0)
            out[v] = [self.clients[int(a.idx)] for a in route if a.is_client()]
        for v, f in self.p.first.items():
            out[v].insert(0, f)
        return out


class _Stop:
    """PyVRP stopping criterion: time, cancel, first feasible, give up (checked per iteration).

    It also reports the best cost every :data:`PROGRESS_EVERY_S` (new bests are rare late in
    a search, and the UI's progress bar moves with these reports).
    """

    def __init__(
        self,
        search: PyvrpSearch,
        cancel: CancelToken | None,
        progress: ProgressCallback | None,
        clock: Callable[[], float] = system_monotonic,
    ) -> None:
        self.search, self.cancel, self.progress, self.clock = search, cancel, progress, clock
        self.t0 = self.last = self.improved_at = clock()
        self.best = float("inf")
        self.cancelled = False
        self.converged = False

    def __call__(self, best_cost: float) -> bool:
        now = self.clock()
        elapsed = now - self.t0
        feasible = best_cost < np.iinfo(np.int64).max
        if feasible and best_cost < self.best:
            self.best, self.improved_at = float(best_cost), now
        stall = self.search.stall_s
        if feasible and stall is not None and now - self.improved_at >= stall:
            self.converged = True
            return True
        if self.progress is not None and feasible and now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.progress(float(best_cost), elapsed)
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
            return True
        if feasible and self.search.stop_at_first_feasible:
            return True
        give_up = self.search.give_up_s
        if give_up is not None and not feasible and elapsed >= give_up:
            return True
        return elapsed >= self.search.time_limit_s


def _objective(solution: Solution) -> float:
    """What PyVRP minimises here: distance and duration costs, fixed vehicle costs and
    dropped prizes."""
    return float(
        solution.distance_cost()
        + solution.duration_cost()
        + solution.fixed_vehicle_cost()
        + solution.uncollected_prizes()
    )


class _Progress(IteratedLocalSearchCallbacks):
    """Reports every new best feasible solution as ``progress(cost, elapsed_s)``, and keeps
    the best feasible one with at most ``max_routes`` routes (see :class:`PyvrpSearch`)."""

    def __init__(
        self, progress: ProgressCallback | None, t0: float, max_routes: int | None = None
    ) -> None:
        self.progress, self.t0, self.max_routes = progress, t0, max_routes
        self.capped: Solution | None = None
        self.capped_cost = float("inf")

    def on_start(self, ils: IteratedLocalSearch) -> None:
        self._consider(ils.initial_solution)  # a warm start within the cap is kept at worst

    def on_best(self, best: Solution) -> None:
        self._consider(best)
        if self.progress is not None and best.is_feasible():
            self.progress(_objective(best), system_monotonic() - self.t0)

    def on_iteration(
        self, current: Solution, candidate: Solution, best: Solution, cost_evaluator: object
    ) -> None:
        if self.max_routes is not None:
            self._consider(candidate)

    def _consider(self, sol: Solution) -> None:
        if self.max_routes is None or sol.num_routes() > self.max_routes:
            return
        if sol.is_feasible():
            cost = _objective(sol)
            if cost < self.capped_cost:
                self.capped, self.capped_cost = sol, cost


def solve_pyvrp(
    problem: RoutingProblem,
    search: PyvrpSearch,
    initial: list[list[int]] | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> RoutingOutcome:
    """Solve ``problem`` with PyVRP; ``routes`` is ``None`` if nothing feasible was found.

    Raises:
        ValueError: ``problem`` uses something PyVRP cannot express (:func:`unsupported`).
    """
    reason = unsupported(problem)
    if reason is not None:
        raise ValueError(f"PyVRP cannot express {reason}")
    stop = _Stop(search, cancel, progress)
    tr = _Translation(problem)
    start = None
    if initial is not None:
        try:
            start = tr.solution(initial)
        except (ValueError, IndexError, RuntimeError):
            start = None  # a warm start PyVRP refuses: let it construct its own
    callbacks = (
        _Progress(progress, stop.t0, search.max_routes)
        if progress is not None or search.max_routes is not None
        else IteratedLocalSearchCallbacks()
    )
    params = SolveParams(ils=IteratedLocalSearchParams(callbacks=callbacks))
    with warnings.catch_warnings():
        # PyVRP warns when its penalties hit their bound on an infeasible problem; the
        # caller learns that from the result (no feasible routes) and falls back.
        warnings.simplefilter("ignore")
        res = solve(
            tr.data,
            stop,
            seed=search.seed,
            collect_stats=False,
            params=params,
            initial_solution=start,
        )
    elapsed = system_monotonic() - stop.t0
    best = res.best
    over = search.max_routes is not None and best.num_routes() > search.max_routes
    capped = callbacks.capped if isinstance(callbacks, _Progress) else None
    if capped is not None and (over or not best.is_feasible()):  # the best within the cap
        best = capped
    if not best.is_feasible():
        return RoutingOutcome(None, float("inf"), stop.cancelled, elapsed)
    routes = tr.routes(best)
    return RoutingOutcome(routes, _objective(best), stop.cancelled, elapsed, stop.converged)
