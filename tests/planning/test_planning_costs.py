"""Per-vehicle costs reach both engines: money, not distance, when a fleet has costs.

The hand-made day (plane, time = distance, depot at 0,0, service 0, shift 0-3000):

- A at (10, 0), window 0-100;
- B at (20, 0), window 1000-1100;
- C at (0, 300), window 1300-2000.

By distance one vehicle drives A, B, C (620.7) and waits 980 at B; splitting costs 640.7.
At 1 per km and 36 per hour, A alone (20 long, 20 on the clock: 0.22) and B, C (leaves at 980,
back at 1600.67: 620.67 long and on the clock: 6.827) cost 7.047, against 15.727 for A, B, C
(on the clock from 90, the latest start that still reaches A by 100, to 1600.67).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from dispatcher.eta import EuclideanProvider
from dispatcher.planning.costs import COST_TARGET, route_money, solver_costs
from dispatcher.planning.evaluate import evaluate_plan
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle
from dispatcher.planning.optimize import (
    OptimizationResult,
    OptimizeOptions,
    build_model,
    optimize,
)
from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp
from dispatcher.planning.routing import SearchParams, solve_routing

LIMIT = OptimizeOptions(time_limit_s=1.0)
BC = math.hypot(20, 300)  # 300.666...


def day(per_km: float = 0.0, per_hour: float = 0.0, vehicles: int = 2) -> Plan:
    stops = [
        PlanStop("A", (10.0, 0.0), 0.0, 100.0, demand=1),
        PlanStop("B", (20.0, 0.0), 1000.0, 1100.0, demand=1),
        PlanStop("C", (0.0, 300.0), 1300.0, 2000.0, demand=1),
    ]
    fleet = [
        PlanVehicle(f"v{k}", 10, 0.0, 3000.0, (0.0, 0.0), (0.0, 0.0), None, None, per_km, per_hour)
        for k in range(vehicles)
    ]
    return Plan.build(fleet, stops, {v.id: [] for v in fleet}, ["A", "B", "C"])


def routes_of(result: OptimizationResult) -> set[tuple[str, ...]]:
    return {tuple(r) for r in result.routes.values() if r}


def test_the_conversion_to_solver_units():
    """0.5 $/km and 25 $/h at 10 units per metre and second: the dearer rate (per hour) is
    1000 units per tenth of a second, so a tenth of a metre is 1000 × (0.5 / 10 000) /
    (25 / 36 000) = 72 units, and one $ is 1000 / (25 / 36 000) = 1.44 million units."""
    van = PlanVehicle("v", 10, 0.0, 1.0, (0.0, 0.0), cost_per_km=0.5, cost_per_hour=25.0)
    costs = solver_costs([van, replace(van, id="w", cost_per_km=1.0)], 10.0)
    assert costs is not None
    assert costs.distance == [72, 144]
    assert costs.duration == [COST_TARGET, COST_TARGET]
    assert costs.fixed == [0, 0]
    assert costs.units_per_money == pytest.approx(1.44e6)
    assert costs.penalty_factor == COST_TARGET
    # only a rate per km, the same for all: today's objective (distance × a constant)
    same = [replace(van, cost_per_hour=0.0), replace(van, id="w", cost_per_hour=0.0)]
    assert solver_costs(same, 10.0) is None
    assert solver_costs([replace(van, cost_per_km=0.0, cost_per_hour=0.0)], 10.0) is None
    # only hours: distance counts one unit, the tie-breaker between equally long days
    timed = solver_costs([replace(van, cost_per_km=0.0)], 10.0)
    assert timed is not None and timed.distance == [1] and timed.duration == [COST_TARGET]
    # a fixed cost without rates (plumbing, no fleet-setup column yet): distance stays the unit
    fixed = solver_costs([replace(van, cost_per_km=0.0, cost_per_hour=0.0, fixed_cost=50.0)], 10)
    assert fixed is not None and fixed.distance == [1] and fixed.penalty_factor == 1
    assert fixed.fixed == [10_000_000]  # the dearest vehicle weighs 1000 km


def test_a_fleet_without_costs_keeps_the_distance_only_model():
    build = build_model(day(), PlanMatrix.build(day(), EuclideanProvider()), LIMIT)
    p = build.problem
    assert build.costs is None and build.penalty_factor == 1
    assert (p.distance_cost, p.duration_cost, p.vehicle_fixed) == ([], [], [])
    assert [p.distance_weight(v) for v in range(2)] == [1, 1]
    assert [p.duration_weight(v) for v in range(2)] == [0, 0]


@pytest.mark.parametrize("engine", ["ortools", "auto"])
def test_distance_only_waits_at_b_and_costed_hours_do_not(engine: str):
    plain = day()
    pm = PlanMatrix.build(plain, EuclideanProvider())
    by_distance = optimize(plain, pm, replace(LIMIT, engine=engine))
    assert by_distance.feasible
    assert routes_of(by_distance) == {("A", "B", "C")}
    ev = next(e for e in by_distance.after.routes.values() if e.stop_ids)
    assert ev.waiting[1] == pytest.approx(980.0)  # reaches B at 20, waits until 1000

    costed = day(per_km=1.0, per_hour=36.0)
    result = optimize(
        costed, PlanMatrix.build(costed, EuclideanProvider()), replace(LIMIT, engine=engine)
    )
    assert result.feasible
    assert routes_of(result) == {("A",), ("B", "C")}
    assert result.engine == ("ortools" if engine == "ortools" else "pyvrp")
    for ev in result.after.routes.values():
        assert float(ev.waiting.sum()) == pytest.approx(0.0)


def test_the_route_costs_by_hand():
    """Money of each route from the evaluator: fixed + per km + per hour on the clock."""
    plan = day(per_km=1.0, per_hour=36.0)
    plan.routes["v0"], plan.routes["v1"], plan.unassigned = ["A"], ["B", "C"], []
    ev = evaluate_plan(PlanMatrix.build(plan, EuclideanProvider()), plan)
    a, bc = ev.routes["v0"], ev.routes["v1"]
    assert (a.start_time, a.end_time) == (0.0, 20.0)
    assert a.cost == pytest.approx(1.0 * 20 / 1000 + 36.0 * 20 / 3600)  # 0.22
    assert bc.start_time == pytest.approx(980.0)  # leaves as late as B's window allows
    assert bc.end_time == pytest.approx(1000 + BC + 300)
    assert bc.cost == pytest.approx(1.0 * (20 + BC + 300) / 1000 + 36.0 * (20 + BC + 300) / 3600)
    assert ev.cost == pytest.approx(0.22 + 6.82733, abs=1e-5)

    plan.routes["v0"], plan.routes["v1"] = ["A", "B", "C"], []
    one = evaluate_plan(PlanMatrix.build(plan, EuclideanProvider()), plan).routes["v0"]
    # The board: leaves at 0 (A opens at 0), waits 980 at B. The money: on the clock from 90,
    # the latest start that still reaches A by 100 (B's wait cannot be avoided from there).
    assert one.start_time == 0.0 and one.duration == pytest.approx(1000 + BC + 300)
    assert one.cost == pytest.approx((20 + BC + 300) / 1000 + 36.0 * (1000 + BC + 300 - 90) / 3600)
    assert ev.routes["v1"].cost == route_money(
        plan.vehicles["v1"], 20 + BC + 300, bc.duration, True
    )


def test_the_solvers_objective_is_the_hand_calculated_money():
    """Both engines minimise the same integers: 100 units per tenth of a metre and 1000 per
    tenth of a second on the clock (1 $/km, 36 $/h → one $ = a million units)."""
    plan = day(per_km=1.0, per_hour=36.0)
    build = build_model(plan, PlanMatrix.build(plan, EuclideanProvider()), LIMIT)
    p = build.problem
    assert build.costs is not None and build.costs.units_per_money == pytest.approx(1e6)
    assert (p.distance_cost, p.duration_cost) == ([100, 100], [1000, 1000])
    node = {s: n for n, s in build.node_stop.items()}
    # integer arcs: A is 200 from the depot, B 200, C 3000; B-C rounds to 3007 (travel up)
    dist_a, dist_bc = 2 * 100, 200 + 3007 + 3000
    want = 100 * (dist_a + dist_bc) + 1000 * (dist_a + dist_bc)  # no wait: span = travel
    for solve in (
        lambda: solve_routing(p, SearchParams(1.0)),
        lambda: solve_pyvrp(p, PyvrpSearch(1.0, stall_s=0.5)),
    ):
        out = solve()
        assert out.routes is not None
        assert sorted(tuple(r) for r in out.routes if r) == sorted(
            [(node["A"],), (node["B"], node["C"])]
        )
        assert out.objective == want
    assert build.costs.money(want) == pytest.approx(7.047, abs=1e-3)


@pytest.mark.parametrize("engine", ["ortools", "auto"])
def test_each_vehicle_pays_its_own_rate(engine: str):
    """Windows wide open, no hours priced: the cheaper vehicle per km drives everything."""
    plan = day()
    for sid in ("A", "B", "C"):
        plan.stops[sid] = replace(plan.stops[sid], window_start=0.0, window_end=3000.0)
    plan.vehicles["v0"] = replace(plan.vehicles["v0"], cost_per_km=5.0)
    plan.vehicles["v1"] = replace(plan.vehicles["v1"], cost_per_km=1.0)
    result = optimize(
        plan, PlanMatrix.build(plan, EuclideanProvider()), replace(LIMIT, engine=engine)
    )
    assert result.feasible
    assert result.routes["v0"] == [] and sorted(result.routes["v1"]) == ["A", "B", "C"]


def test_a_vehicle_on_the_road_is_on_the_clock_from_now():
    """Its start cannot move later: waiting there would still be paid."""
    plan = day(per_km=1.0, per_hour=36.0)
    plan.vehicles["v1"] = replace(plan.vehicles["v1"], start_time=50.0, current_load=0)
    build = build_model(plan, PlanMatrix.build(plan, EuclideanProvider()), LIMIT)
    p = build.problem
    assert p.window_hi[p.starts[1]] == p.window_lo[p.starts[1]] == 500
    assert p.window_hi[p.starts[0]] == 30_000  # at the depot: any time within the shift


def test_one_route_resequenced_with_hours_priced():
    """One vehicle, all three stops: by distance A, B, C; with hours priced A, C, B comes
    back at 1020 instead of 1600.67 (the single-route search prices duration too)."""
    for per_hour, want in ((0.0, ["A", "B", "C"]), (36.0, ["A", "C", "B"])):
        plan = day(per_km=1.0, per_hour=per_hour, vehicles=1)
        for sid in ("C",):
            plan.stops[sid] = replace(plan.stops[sid], window_start=0.0)
        plan.routes["v0"], plan.unassigned = ["C", "B", "A"], []
        pm = PlanMatrix.build(plan, EuclideanProvider())
        result = optimize(plan, pm, OptimizeOptions(time_limit_s=0.3, vehicle_ids=("v0",)))
        assert result.routes["v0"] == want, per_hour
        assert result.feasible


def test_costs_reach_the_day_plan_from_the_fleet_setup():
    from datetime import time

    from dispatcher.persistence.fleet_repo import VehicleView
    from dispatcher.planning.dayplan import build_day_plan

    views = [
        VehicleView("T1", "Truck 1", 40, time(7), time(15), "", 41.9, -87.6, None, 0.5, 25.0),
        VehicleView("T2", "Truck 2", 40, time(7), time(15), "", 41.9, -87.6, None, -3.0, np.nan),
    ]
    plan = build_day_plan([], views, "America/Chicago").plan
    assert (plan.vehicles["T1"].cost_per_km, plan.vehicles["T1"].cost_per_hour) == (0.5, 25.0)
    # bad stored values count as no cost, never a crash
    assert (plan.vehicles["T2"].cost_per_km, plan.vehicles["T2"].cost_per_hour) == (0.0, 0.0)
