"""Resequencing runs our local search and OR-Tools side by side; the better route wins.

The engines are real; where a test needs one engine to lose, fail or hang, that engine's
entry point in :mod:`dispatcher.planning.portfolio` is replaced (inherited by the forked
OR-Tools child), never the optimizer around it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import replace

import pytest
from planning_builders import random_plan

import dispatcher.planning.portfolio as portfolio_module
from dispatcher.eta import EuclideanProvider
from dispatcher.planning.locks import lock_violations
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import OptimizeOptions, build_model, optimize
from dispatcher.planning.reseq import Resequenced, route_problem
from dispatcher.planning.routing import RoutingOutcome
from dispatcher.planning.tsptw import route_cost

MODES = [pytest.param(True, id="forked"), pytest.param(False, id="sequential")]


def _locked_route(seed: int = 21, n: int = 14) -> Plan:
    """One route with a done stop, a pin and a two-stop order group, in random order."""
    plan = random_plan(seed, n, 1, done=1)
    route = plan.routes["v0"]
    plan.stops[route[5]] = replace(plan.stops[route[5]], pinned=True)
    for sid in (route[2], route[9]):
        plan.stops[sid] = replace(plan.stops[sid], order_group="g1")
    return plan


def _unchanged(problem, stops, time_limit_s, late_weight, cancel=None, progress=None):
    """A local search that finds nothing: returns ``stops`` as they are."""
    cost, warp = route_cost(route_problem(problem, late_weight), stops)
    return Resequenced(list(stops), warp <= 0, cost + late_weight * warp, 0.0, False)


def _run(plan: Plan, limit: float, parallel: bool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(portfolio_module, "PARALLEL", parallel)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    t0 = time.perf_counter()
    result = optimize(plan, pm, OptimizeOptions(time_limit_s=limit, vehicle_ids=("v0",)))
    return result, time.perf_counter() - t0


@pytest.mark.parametrize("parallel", MODES)
def test_both_engines_answer_and_the_better_route_is_kept(parallel, monkeypatch):
    plan = _locked_route()
    build = build_model(plan, PlanMatrix.build(plan, EuclideanProvider()), OptimizeOptions())
    got = portfolio_module.portfolio(  # 2 s: a loaded CI machine gave 0.6 s to none
        build.problem, build.initial[0], False, 2.0, 100, parallel=parallel
    )
    assert got is not None
    assert got.ortools_status in ("worse", "better"), "OR-Tools gave a route in time"
    assert got.engine == ("ortools" if got.ortools_status == "better" else "local")


@pytest.mark.parametrize("parallel", MODES)
def test_ortools_wins_when_the_local_search_finds_nothing(parallel, monkeypatch):
    monkeypatch.setattr(portfolio_module, "resequence", _unchanged)
    plan = _locked_route()
    result, took = _run(plan, 0.8, parallel, monkeypatch)
    assert result.engine == "ortools"
    assert result.after.distance < result.before.distance
    assert lock_violations(plan, result.routes, result.unassigned) == []
    route = result.routes["v0"]
    assert route[0] == plan.routes["v0"][0], "the done stop stays first"
    assert route[5] == plan.routes["v0"][5], "the pinned stop stays in place"
    assert route.index(plan.routes["v0"][2]) < route.index(plan.routes["v0"][9]), "group order"
    assert took < 0.8 + 5  # finished; its overrun is measured in bench/planning.py


@pytest.mark.parametrize("parallel", MODES)
def test_local_search_wins_with_the_locks_kept(parallel, monkeypatch):
    plan = _locked_route(seed=22, n=30)
    result, took = _run(plan, 0.5, parallel, monkeypatch)
    assert result.engine in ("local", "ortools")
    assert result.honours_locks
    assert result.after.distance <= result.before.distance + 1e-6
    assert took < 0.5 + 5  # not hung; the 0.5-s overrun target is bench/planning.py's


def _hangs(*args, **kwargs) -> RoutingOutcome:
    time.sleep(30)
    raise AssertionError("unreachable")


def _raises(*args, **kwargs) -> RoutingOutcome:
    raise RuntimeError("solver crashed")


def _no_route(*args, **kwargs) -> RoutingOutcome:
    return RoutingOutcome(None, float("inf"), False, 0.0)


@pytest.mark.parametrize(
    ("solver", "status"),
    [(_hangs, "timeout"), (_raises, "failed"), (_no_route, "no route")],
)
def test_a_hanging_failing_or_infeasible_ortools_leaves_the_local_route(
    solver, status, monkeypatch
):
    monkeypatch.setattr(portfolio_module, "solve_routing", solver)
    plan = _locked_route()
    build = build_model(plan, PlanMatrix.build(plan, EuclideanProvider()), OptimizeOptions())
    t0 = time.perf_counter()
    got = portfolio_module.portfolio(
        build.problem, build.initial[0], False, 0.4, 100, parallel=True
    )
    took = time.perf_counter() - t0
    assert got is not None
    assert (got.engine, got.ortools_status) == ("local", status)
    # Killed, not waited for (it sleeps 30 s); the 0.5-s overrun target is measured in
    # bench/planning.py, not here: a shared CI machine took 1.1 s at load 7.
    assert took < 0.4 + 5, "a hung OR-Tools child is killed"


def test_sequential_ortools_failure_to_find_a_route_keeps_the_local_one(monkeypatch):
    monkeypatch.setattr(portfolio_module, "solve_routing", _no_route)
    plan = _locked_route()
    result, _ = _run(plan, 0.3, False, monkeypatch)
    assert result.engine == "local"
    assert result.honours_locks


def test_a_route_that_breaks_a_lock_is_left_to_ortools_fallbacks(monkeypatch):
    plan = _locked_route()
    build = build_model(plan, PlanMatrix.build(plan, EuclideanProvider()), OptimizeOptions())
    pinned = build.initial[0][4]  # the pinned stop (after the done one) moved away
    bad = [n for n in build.initial[0] if n != pinned] + [pinned]
    assert portfolio_module.portfolio(build.problem, bad, False, 0.2, 100) is None


@pytest.mark.parametrize("parallel", MODES)
def test_cancel_stops_both_engines_promptly(parallel, monkeypatch):
    monkeypatch.setattr(portfolio_module, "PARALLEL", parallel)
    plan = random_plan(23, 120, 1, pickups=False)
    for vehicle in plan.vehicles.values():
        plan.vehicles[vehicle.id] = replace(vehicle, capacity=10_000, shift_end=1e6)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    cancel = threading.Event()
    t0 = time.perf_counter()

    def progress(best: float, elapsed: float) -> None:
        cancel.set()

    opts = OptimizeOptions(time_limit_s=20, vehicle_ids=("v0",))
    result = optimize(plan, pm, opts, cancel, progress)
    assert time.perf_counter() - t0 < 2.0
    assert result.cancelled
    assert result.ortools_status, "the portfolio ran (not OR-Tools' fallbacks)"
    assert result.honours_locks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_the_ortools_child_dies_with_its_parent():
    """A killed optimizer worker leaves no OR-Tools solver running on."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    parent = ctx.Process(target=_parent_of_a_dying_child, args=(sender,))
    parent.start()
    sender.close()
    child_pid = receiver.recv()
    parent.kill()
    parent.join(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child_pid):
        time.sleep(0.05)
    assert not _alive(child_pid)


def _parent_of_a_dying_child(conn) -> None:
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=_sleeper, args=(conn,), daemon=True)
    child.start()
    time.sleep(60)


def _sleeper(conn) -> None:
    portfolio_module._die_with_parent()
    conn.send(os.getpid())  # only now: the parent must not die before the request is made
    time.sleep(60)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_fork_that_fails_falls_back_to_ortools_after_the_search(monkeypatch):
    def no_fork(self) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr("multiprocessing.process.BaseProcess.start", no_fork)
    plan = _locked_route()
    result, took = _run(plan, 0.4, True, monkeypatch)
    assert result.ortools_status in ("better", "worse"), "OR-Tools still ran, after the search"
    assert result.honours_locks
    assert took < 0.4 + 5  # finished; its overrun is measured in bench/planning.py
