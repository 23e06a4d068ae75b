"""The optimizer's output is feasible and honours every lock; it can be cancelled."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planning_builders import locked_plans, random_plan

from dispatcher.errors import ConflictError
from dispatcher.eta import EuclideanProvider
from dispatcher.planning.commands import MoveWithinRoute, UndoStack
from dispatcher.planning.evaluate import evaluate_route
from dispatcher.planning.locks import lock_violations
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import OptimizeOptions, optimize

QUICK = OptimizeOptions(time_limit_s=0.3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(locked_plans())
def test_every_optimized_plan_honours_every_lock(plan: Plan):
    pm = PlanMatrix.build(plan, EuclideanProvider())
    result = optimize(plan, pm, QUICK)
    assert lock_violations(plan, result.routes, result.unassigned) == []
    assert result.honours_locks
    if result.mode == "hard":
        assert result.feasible, result.problems()
    for vid, route in result.routes.items():
        ev = evaluate_route(pm, plan.vehicles[vid], route, plan)
        assert ev.overload == 0 or result.mode != "hard"


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000))
def test_generous_instances_are_solved_feasibly(seed: int):
    plan = random_plan(seed, 15, 2)
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    assert result.mode == "hard"
    assert result.feasible, result.problems()
    assert result.after.distance <= result.before.distance + 1e-6


def test_pinned_stop_stays_in_place_when_resequencing():
    plan = random_plan(11, 12, 1, done=1)
    pinned = plan.routes["v0"][4]
    plan.stops[pinned] = replace(plan.stops[pinned], pinned=True)
    result = optimize(
        plan,
        PlanMatrix.build(plan, EuclideanProvider()),
        OptimizeOptions(time_limit_s=0.5, vehicle_ids=("v0",)),
    )
    assert result.routes["v0"][4] == pinned
    assert result.routes["v0"][0] == plan.routes["v0"][0], "done stop stays first"
    assert result.moved, "a random order can always be improved"
    assert result.engine in ("local", "ortools"), "the preview names whose plan it shows"


def test_unassigned_stops_are_planned_by_fleet_optimization():
    plan = random_plan(12, 10, 2)
    plan.routes["v0"].remove("s0")
    plan.unassigned.append("s0")
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    assert result.unassigned == []
    assert any("s0" in r for r in result.routes.values())


@pytest.mark.parametrize(("engine", "used"), [("auto", "pyvrp"), ("ortools", "ortools")])
def test_cancel_returns_promptly_with_the_best_so_far(engine: str, used: str):
    plan = random_plan(13, 60, 4)
    cancel = threading.Event()
    seen: list[float] = []

    def progress(best: float, elapsed: float) -> None:
        seen.append(best)
        if len(seen) >= 3:
            cancel.set()

    result = optimize(
        plan,
        PlanMatrix.build(plan, EuclideanProvider()),
        OptimizeOptions(time_limit_s=20, engine=engine),
        cancel,
        progress,
    )
    assert result.cancelled
    assert result.engine == used
    assert result.elapsed_s < 5
    assert result.honours_locks
    if used == "pyvrp":  # reports new bests only; GLS reports every solution it accepts
        assert seen == sorted(seen, reverse=True)


def test_applying_a_stale_preview_is_a_conflict():
    plan = random_plan(14, 8, 2)
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    stack = UndoStack(plan)
    stack.push(MoveWithinRoute("v0", [plan.routes["v0"][0]], 1))
    with pytest.raises(ConflictError):
        stack.push(result.command())


def test_applied_preview_undoes():
    plan = random_plan(15, 8, 2)
    before = {k: list(v) for k, v in plan.routes.items()}
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    stack = UndoStack(plan)
    stack.push(result.command())
    assert plan.routes == result.routes
    stack.undo()
    assert plan.routes == before


def test_open_routes_end_at_the_last_stop():
    plan = random_plan(16, 10, 2)
    for vid, v in list(plan.vehicles.items()):
        plan.vehicles[vid] = replace(v, end=None)
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    assert result.feasible, result.problems()
    for vid, ev in result.after.routes.items():
        if ev.stop_ids:
            assert ev.end_time == ev.departure[-1], f"{vid} drives home although it need not"


def test_pickups_and_deliveries_respect_capacity_at_every_stop():
    """A tight van: deliveries leave from the depot, pickups ride back; load never exceeds 12."""
    plan = random_plan(17, 12, 3, pickups=True)
    for vid, v in list(plan.vehicles.items()):
        plan.vehicles[vid] = replace(v, capacity=12)
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), QUICK)
    if result.mode == "hard":
        assert all(ev.max_load <= 12 for ev in result.after.routes.values())
