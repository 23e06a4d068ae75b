"""The fleet planner's strategy (``vrptw._solve_pyvrp``): reduction budgets, the final
phase's fleet, the cap on routes, warm starts with fewer routes than vehicles.

Nothing here is timed: the figures are in ``bench/planning.py --versus``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dispatcher.planning.pyvrp_engine import PyvrpSearch, _Translation, solve_pyvrp
from dispatcher.planning.routing import RoutingProblem
from dispatcher.planning.solomon import SolomonInstance
from dispatcher.planning.vrptw import (
    PyvrpTuning,
    _solve_pyvrp,
    final_fleet,
    reduce_budget,
    restart_stall,
)

TUNE = PyvrpTuning(portfolio=False)
"""The reduction arm alone (the portfolio is tested in test_planning_fleet_portfolio.py)."""


def test_the_first_reduction_attempt_gets_the_full_share() -> None:
    assert reduce_budget(30.0, [], TUNE) == pytest.approx(TUNE.reduce_share * 30)


def test_later_attempts_scale_with_the_longest_success_within_bounds() -> None:
    lo, hi = TUNE.reduce_min_share * 30, TUNE.reduce_share * 30
    assert reduce_budget(30.0, [0.01, 0.02], TUNE) == pytest.approx(lo)  # quick successes
    assert reduce_budget(30.0, [0.01, 0.5], TUNE) == pytest.approx(TUNE.reduce_grow * 0.5)
    assert lo < TUNE.reduce_grow * 0.5 < hi
    assert reduce_budget(30.0, [3.0], TUNE) == pytest.approx(hi)  # never above the share


def test_without_growth_every_attempt_gets_the_share() -> None:
    tune = replace(TUNE, reduce_grow=0.0)
    assert reduce_budget(5.0, [0.01], tune) == pytest.approx(tune.reduce_share * 5)


def test_the_final_phase_keeps_the_reduced_fleet_on_small_instances() -> None:
    assert final_fleet(200, 18, 50, TUNE) == (18, 1.0, "best")


def test_on_large_instances_one_vehicle_saved_goes_on_from_the_first_phase() -> None:
    assert final_fleet(400, 42, 100, TUNE, saved=1) == (100, 1.0, "first")


def test_on_large_instances_more_saved_goes_on_from_the_reduced_with_spare_vehicles() -> None:
    assert final_fleet(400, 42, 100, TUNE, saved=2) == (100, TUNE.slack_fixed_factor, "best")


@pytest.mark.parametrize("customers", [100, 400])
def test_restarts_alternate_cold_exact_fleet_and_warm_spare_vehicles(customers: int) -> None:
    slack = (60, TUNE.slack_fixed_factor, "best")
    assert final_fleet(customers, 18, 60, TUNE, restart=1) == (18, 1.0, "cold")
    assert final_fleet(customers, 18, 60, TUNE, restart=2) == slack
    assert final_fleet(customers, 18, 60, TUNE, restart=3) == (18, 1.0, "cold")


def test_without_a_reduction_the_final_phase_goes_on_like_bare_pyvrp() -> None:
    assert final_fleet(100, 19, 25, TUNE, saved=0) == (25, 1.0, "first")
    assert final_fleet(400, 51, 100, TUNE, saved=0) == (100, 1.0, "first")
    assert final_fleet(100, 19, 25, TUNE, restart=1, saved=0) == (19, 1.0, "cold")


def test_restarts_wait_for_a_stall_of_a_share_of_the_limit() -> None:
    assert restart_stall(5.0, TUNE) == TUNE.restart_stall_min_s  # at 5 s: rarely
    assert restart_stall(60.0, TUNE) == pytest.approx(TUNE.restart_stall_share * 60)
    assert restart_stall(30.0, replace(TUNE, restart_stall_share=0.0)) is None
    assert restart_stall(30.0, TUNE, customers=400) == pytest.approx(16.0)  # large: longer


def _non_metric() -> RoutingProblem:
    """Depot 0, stops 1 and 2: close to the depot, far from each other (1 -> 2 costs 1000),
    so two routes (cost 4) beat one (cost 1002) when vehicles cost nothing."""
    cost = np.array([[0, 1, 1], [1, 0, 1000], [1, 1000, 0]], dtype=np.int64)
    return RoutingProblem(
        cost=cost,
        travel=cost.copy(),
        starts=[0, 0],
        ends=[0, 0],
        window_lo=np.zeros(3, dtype=np.int64),
        window_hi=np.full(3, 10_000, dtype=np.int64),
        capacities=[10, 10],
        demand=np.array([0, 1, 1], dtype=np.int64),
        start_load=[None, None],
    )


def test_a_warm_start_with_fewer_routes_than_vehicles_is_kept() -> None:
    problem = _non_metric()
    sol = _Translation(problem).solution([[1, 2]])  # one route for two vehicles
    assert sol.num_routes() == 1


def test_without_a_cap_the_cheaper_two_routes_win() -> None:
    out = solve_pyvrp(_non_metric(), PyvrpSearch(0.2), initial=[[1, 2]])
    assert out.routes is not None
    assert sorted(out.routes) == [[1], [2]]


def test_the_cap_keeps_the_route_count_it_was_given() -> None:
    out = solve_pyvrp(_non_metric(), PyvrpSearch(0.2, max_routes=1), initial=[[1, 2]])
    assert out.routes is not None
    assert [r for r in out.routes if r] in ([[1, 2]], [[2, 1]])


def _instance(n: int, seed: int) -> SolomonInstance:
    """Random customers, windows wide enough for a few vehicles (a Solomon R2-like day)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([[50.0], rng.uniform(0, 100, n)])
    y = np.concatenate([[50.0], rng.uniform(0, 100, n)])
    d0 = np.hypot(x - 50, y - 50)
    ready = np.concatenate([[0.0], np.floor(rng.uniform(0, 300, n))])
    due = ready + 200
    due[0] = 1000.0
    due[1:] = np.minimum(due[1:], 1000 - d0[1:] - 10)
    ready[1:] = np.minimum(ready[1:], due[1:])
    due[1:] = np.maximum(due[1:], np.ceil(d0[1:]))
    demand = np.concatenate([[0.0], rng.integers(1, 30, n).astype(float)])
    service = np.concatenate([[0.0], np.full(n, 10.0)])
    return SolomonInstance("T", n, 200, x, y, demand, ready, due, service)


@pytest.mark.parametrize("slack_above", [250, 0])  # from the reduced, then the first phase
def test_the_phases_give_valid_routes_never_more_than_the_reduction_reached(
    slack_above: int,
) -> None:
    inst = _instance(40, 3)
    tune = replace(TUNE, slack_above=slack_above)
    res = _solve_pyvrp(inst, 1.0, tune, None, None)
    assert inst.check(res.routes) == []
    assert res.log[0].startswith("first:") and res.log[-1].startswith("final:")
    reached = [int(line.split()[1]) for line in res.log if line.startswith(("first", "reduced"))]
    assert res.vehicles <= min(reached)
