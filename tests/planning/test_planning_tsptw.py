"""The single-route local search: exact incremental checks, locks kept, never worse."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planning_builders import random_plan

from dispatcher.eta import EuclideanProvider
from dispatcher.model.core import StopStatus
from dispatcher.planning.locks import lock_violations
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import OptimizeOptions, optimize
from dispatcher.planning.tsptw import (
    RouteProblem,
    _Neighbourhood,
    _Search,
    _Tables,
    improve,
    respects_locks,
    route_cost,
)

SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def route_problems(draw: st.DrawFn) -> tuple[RouteProblem, list[int]]:
    """Integer instances: random points, windows, pins, an order group, pickups, and now
    and then a price on the route's duration.

    The start order respects every lock (capacity is set to the start's peak load), as the
    optimizer's warm start does.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    n = draw(st.integers(2, 24))
    size = n + 2
    pts = rng.uniform(0, 100, (size, 2))
    cost = np.rint(np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1)))
    travel = cost + rng.integers(0, 6, (size, 1))  # service time at the origin
    lo = rng.integers(0, 400, size).astype(float)
    hi = lo + rng.integers(30, 400, size).astype(float)
    lo[:2], hi[:2] = 0.0, float(draw(st.sampled_from([800, 5000])))
    stops = [int(s) for s in rng.permutation(np.arange(2, size))]
    pinned = {stops[i]: i for i in range(n) if rng.random() < 0.15}
    free = [s for s in stops if s not in pinned]
    group = [s for s in free if rng.random() < 0.3] if draw(st.booleans()) else []
    delta = None
    start_load, capacity = 0.0, float("inf")
    if draw(st.booleans()):
        delta = rng.integers(-4, 5, size).astype(float)
        delta[:2] = 0.0
        start_load = float(-np.minimum(np.cumsum(delta[stops]), 0).min()) + 1
        capacity = float(start_load + max(0.0, np.cumsum(delta[stops]).max()))
    problem = RouteProblem(
        cost=cost,
        travel=travel.astype(float),
        lo=lo,
        hi=hi,
        start=0,
        end=1,
        pinned=pinned,
        groups=[group] if len(group) > 1 else [],
        load_delta=delta,
        start_load=start_load,
        capacity=capacity,
        warp_weight=float(draw(st.sampled_from([1, 100]))),
        duration_weight=float(draw(st.sampled_from([0, 0, 3]))),  # a costed vehicle's hours
    )
    return problem, stops


@SLOW
@given(route_problems(), st.integers(2, 30))
def test_every_move_gain_equals_the_slow_reference(case, span):
    problem, stops = case
    search = _Search(problem, stops, span, seed=0)
    tables = _Tables(problem, search.x, span)
    hood = _Neighbourhood(problem, tables, search.anchored, (1, len(search.x) - 1))
    cost, warp = route_cost(problem, stops)
    assert abs(hood.obj - (cost + problem.warp_weight * warp)) < 1e-6
    for move in search.candidates((1, len(search.x) - 1)):
        after = move.apply(search.x)
        assert sorted(after) == sorted(search.x)
        assert after[0] == problem.start and after[-1] == problem.end
        assert all(after[i + 1] == node for node, i in problem.pinned.items())
        assert abs(search.obj - search.objective(after) - move.gain) < 1e-6


@SLOW
@given(route_problems(), st.integers(0, 3))
def test_improve_keeps_locks_and_never_gets_worse(case, seed):
    problem, stops = case
    assert respects_locks(problem, stops)
    out = improve(problem, stops, time.monotonic() + 0.03, span=12, seed=seed)
    assert sorted(out) == sorted(stops)
    assert respects_locks(problem, out)
    c0, w0 = route_cost(problem, stops)
    c1, w1 = route_cost(problem, out)
    assert c1 + problem.warp_weight * w1 <= c0 + problem.warp_weight * w0 + 1e-6


def test_improve_finds_the_obvious_order():
    """Points on a line, open windows: the search must undo a shuffle."""
    size = 12
    xs = np.arange(size, dtype=float)
    xs[1] = 0.0  # the end is back at the start
    cost = np.abs(xs[:, None] - xs[None, :])
    lo, hi = np.zeros(size), np.full(size, 1e6)
    problem = RouteProblem(cost, cost.copy(), lo, hi, 0, 1)
    shuffled = [7, 3, 10, 2, 5, 11, 4, 9, 6, 8]
    out = improve(problem, shuffled, time.monotonic() + 0.2)
    assert route_cost(problem, out)[0] == 2 * 11


def test_cancel_stops_the_search_at_once():
    problem = RouteProblem(np.ones((6, 6)), np.ones((6, 6)), np.zeros(6), np.full(6, 99.0), 0, 1)
    t0 = time.monotonic()
    out = improve(problem, [2, 3, 4, 5], t0 + 5.0, cancelled=lambda: True)
    assert sorted(out) == [2, 3, 4, 5]
    assert time.monotonic() - t0 < 1.0


def _one_route(seed: int, n: int) -> Plan:
    plan = random_plan(seed, n, 1)
    plan.vehicles["v0"] = replace(plan.vehicles["v0"], capacity=1000, shift_end=5000.0)
    route = plan.routes["v0"]
    plan.stops[route[0]] = replace(plan.stops[route[0]], status=StopStatus.ARRIVED)
    plan.stops[route[n // 2]] = replace(plan.stops[route[n // 2]], pinned=True)
    for sid in route[2:5]:
        plan.stops[sid] = replace(plan.stops[sid], order_group="g")
    return plan


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(6, 30), st.sampled_from([0.05, 0.3]))
def test_resequencing_keeps_the_pin_the_arrived_stop_and_the_group(seed, n, limit):
    plan = _one_route(seed, n)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    result = optimize(plan, pm, OptimizeOptions(time_limit_s=limit, vehicle_ids=("v0",)))
    assert lock_violations(plan, result.routes, result.unassigned) == []
    route = plan.routes["v0"]
    assert result.routes["v0"][0] == route[0]
    assert result.routes["v0"][n // 2] == route[n // 2]
    assert not result.unassigned
    if result.mode == "hard":
        assert result.feasible, result.problems()


def test_resequencing_reports_progress_and_can_be_cancelled():
    plan = _one_route(7, 40)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    seen: list[tuple[float, float]] = []
    opts = OptimizeOptions(time_limit_s=0.3, vehicle_ids=("v0",))
    optimize(plan, pm, opts, progress=lambda obj, t: seen.append((obj, t)))
    assert seen
    cancel = threading.Event()
    cancel.set()
    t0 = time.monotonic()
    result = optimize(plan, pm, replace(opts, time_limit_s=5.0), cancel=cancel)
    assert time.monotonic() - t0 < 2.0
    assert result.honours_locks


def test_a_late_solver_route_never_replaces_an_on_time_one():
    """The soft fallback is for days with no on-time order: ours on time beats a late one."""
    from dispatcher.planning.reseq import Resequenced, improves_on
    from dispatcher.planning.routing import RoutingOutcome, RoutingProblem

    n = 5
    cost = np.ones((n, n), dtype=np.int64) * 10
    problem = RoutingProblem(
        cost=cost,
        travel=cost.copy(),
        starts=[0],
        ends=[1],
        window_lo=np.zeros(n, dtype=np.int64),
        window_hi=np.array([100, 100, 15, 100, 100]),
        capacities=[10],
        demand=np.zeros(n, dtype=np.int64),
    )
    own = Resequenced([2, 3, 4], True, 40.0, 0.0, False)
    late = RoutingOutcome([[3, 2, 4]], 30.0, False, 0.0)  # node 2 served at 20 > 15
    assert not improves_on(own, problem, late)
    assert not improves_on(own, problem, RoutingOutcome([[2, 3, 4]], 40.0, False, 0.0))
    assert not improves_on(own, problem, RoutingOutcome([[3, 4]], 20.0, False, 0.0))
    worse = Resequenced([3, 2, 4], False, 1000.0, 0.0, False)
    assert improves_on(worse, problem, RoutingOutcome([[2, 3, 4]], 40.0, False, 0.0))


@SLOW
@given(route_problems(), st.integers(0, 1000))
def test_a_kick_is_a_permutation_of_its_stretch_that_keeps_every_lock(case, seed):
    """The shuffle moves free stops inside its stretch only, mends order groups, keeps loads."""
    problem, stops = case
    search = _Search(problem, stops, 24, seed)
    before = list(search.x)
    stretch = search.kick()
    after = search.x
    assert sorted(after) == sorted(before)
    assert respects_locks(problem, after[1:-1])
    assert abs(search.obj - search.objective(after)) < 1e-6
    if stretch is None:
        assert after == before
    else:
        a, b = stretch
        assert 1 <= a <= b <= len(before) - 2
        assert after[:a] == before[:a] and after[b + 1 :] == before[b + 1 :]


def test_improve_never_trades_an_on_time_route_for_a_cheaper_late_one():
    """With lateness priced low, serving 3 first is cheaper (10 + 0.5 x 27 < 28) but late."""
    xs = np.array([0.0, 10.0, 10.0, 1.0])  # start, end, stop 2, stop 3
    cost = np.abs(xs[:, None] - xs[None, :])
    lo = np.array([0.0, 0.0, 0.0, 30.0])
    hi = np.array([1000.0, 1000.0, 12.0, 40.0])
    problem = RouteProblem(cost, cost.copy(), lo, hi, 0, 1, warp_weight=0.5)
    assert route_cost(problem, [3, 2]) == (10.0, 27.0)
    assert improve(problem, [2, 3], time.monotonic() + 0.1) == [2, 3]
    assert improve(problem, [3, 2], time.monotonic() + 0.1) == [3, 2]


def _pins_only(problem: RouteProblem) -> RouteProblem:
    """``problem`` without the locks the compiled descent leaves to numpy (groups, loads)."""
    # The compiled descent prices distance and time warp only (a duration weight keeps the
    # numpy descent).
    return replace(problem, groups=[], load_delta=None, capacity=float("inf"), duration_weight=0.0)


@SLOW
@given(route_problems(), st.integers(2, 30), st.booleans())
def test_the_compiled_descent_stops_where_no_numpy_move_improves(case, span, around):
    """Same neighbourhood: the compiled local optimum is one for the numpy moves too.

    Gains are checked by the objective recomputed with the plain-loop reference, and pins
    must stay at their index.
    """
    problem, stops = case
    problem = _pins_only(problem)
    search = _Search(problem, stops, span, seed=0)
    assert search.native
    before = search.obj
    search.descend(lambda: False, (1, 2) if around else None)
    assert sorted(search.x) == sorted([problem.start, *stops, problem.end])
    assert search.x[0] == problem.start and search.x[-1] == problem.end
    assert all(search.x[i + 1] == node for node, i in problem.pinned.items())
    assert abs(search.obj - search.objective(search.x)) < 1e-9
    assert search.obj <= before + 1e-9
    if not around:  # looked everywhere: a local optimum of the numpy neighbourhood too
        assert search.candidates((1, len(search.x) - 1)) == []


def test_the_compiled_descent_honours_its_deadline():
    """A deadline already passed stops it before its first move; a later one lets it work."""
    rng = np.random.default_rng(3)
    size = 302
    pts = rng.uniform(0, 1000, (size, 2))
    cost = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1))
    problem = RouteProblem(cost, cost.copy(), np.zeros(size), np.full(size, 1e9), 0, 1)
    search = _Search(problem, list(range(2, size)), 24, seed=0)
    before = list(search.x)
    search.descend(lambda: False, deadline=time.monotonic() - 1.0)
    assert search.x == before
    search.descend(lambda: False, deadline=time.monotonic() + 5.0)
    assert search.obj < route_cost(problem, before[1:-1])[0] - 1.0


def test_a_price_on_hours_keeps_the_numpy_descent_and_avoids_the_long_wait():
    """Start 0, stops 2 (x=10, window 0-100), 3 (x=20, 1000-1100), 4 (y=300, any time).
    By distance 2, 3, 4 is shortest (620.7) but waits 890 at 3 even leaving as late as 2
    allows; with hours priced, 2, 4, 3 (630.8) comes back at 1020 instead of 1600.7."""
    pts = np.array([[0, 0], [0, 0], [10, 0], [20, 0], [0, 300]], dtype=float)
    cost = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1))
    lo = np.array([0, 0, 0, 1000, 0], dtype=float)
    hi = np.array([3000, 3000, 100, 1100, 2000], dtype=float)
    plain = RouteProblem(cost, cost.copy(), lo, hi, 0, 1)
    timed = replace(plain, duration_weight=1.0)
    assert not _Search(timed, [2, 3, 4], 24, seed=0).native
    assert improve(plain, [4, 3, 2], time.monotonic() + 0.2) == [2, 3, 4]
    assert improve(timed, [4, 3, 2], time.monotonic() + 0.2) == [2, 4, 3]
    dist, warp = route_cost(timed, [2, 4, 3])
    assert warp == 0.0
    assert abs(dist - (cost[0, 2] + cost[2, 4] + cost[4, 3] + cost[3, 1] + (1020.0 - 90.0))) < 1e-9
