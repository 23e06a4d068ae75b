"""Skills, pairs, weight and volume, maximum duration and breaks, through every engine.

Each instance is built so that ignoring the constraint would be cheaper; the test asserts the
answer honours it: the fleet planner (PyVRP, with OR-Tools as its fallback), OR-Tools alone,
the route resequencer (local search and OR-Tools side by side), the local search on its own,
insertion and the shared check the route board's drag uses.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from dispatcher.eta import EuclideanProvider
from dispatcher.model.core import StopKind
from dispatcher.planning.constraints import (
    move_violations,
    pair_violations,
    placement_violations,
    plan_violations,
    route_violations,
)
from dispatcher.planning.evaluate import evaluate_route
from dispatcher.planning.insertion import suggest_insertions, why_no_place
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle
from dispatcher.planning.optimize import (
    OptimizationResult,
    OptimizeOptions,
    build_model,
    optimize,
)
from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp, unsupported
from dispatcher.planning.reseq import resequence
from dispatcher.planning.routing import SearchParams, solve_routing

FLEET_ENGINES = ("auto", "ortools")
QUICK = 0.6


def _pm(plan: Plan) -> PlanMatrix:
    return PlanMatrix.build(plan, EuclideanProvider())


def _vehicle(vid: str, **kw: object) -> PlanVehicle:
    base: dict[str, object] = {
        "capacity": 100,
        "shift_start": 0.0,
        "shift_end": 10_000.0,
        "start": (0.0, 0.0),
        "end": (0.0, 0.0),
    }
    base.update(kw)
    return PlanVehicle(vid, **base)  # type: ignore[arg-type]  # **base: values of mixed types


def _fleet(plan: Plan, engine: str, **kw: Any) -> tuple[dict[str, list[str]], OptimizationResult]:
    opts = OptimizeOptions(time_limit_s=QUICK, engine=engine, **kw)
    result = optimize(plan, _pm(plan), opts)
    return result.routes, result


# --- skills -------------------------------------------------------------------------------


def _skills_plan() -> Plan:
    """Three stops side by side, all on the plain van: one route is the cheapest plan, but
    the middle one needs a cold chain only the second van has."""
    stops = [
        PlanStop("a", (10.0, 0.0)),
        PlanStop("cold", (11.0, 0.0), skills=frozenset({"cold"})),
        PlanStop("b", (12.0, 0.0)),
    ]
    vehicles = [_vehicle("plain"), _vehicle("fridge", skills=frozenset({"cold", "lift"}))]
    return Plan.build(vehicles, stops, {"plain": ["a", "cold", "b"], "fridge": []})


@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_puts_a_stop_only_on_a_vehicle_with_its_skills(engine: str):
    plan = _skills_plan()
    assert route_violations(plan, _pm(plan), "plain", plan.routes["plain"])
    routes, result = _fleet(plan, engine, vehicle_fixed_cost=1000.0)
    assert "cold" in routes["fridge"]
    assert result.feasible, result.problems()
    assert plan_violations(plan, _pm(plan), routes) == []


def test_pyvrp_itself_honours_skills():
    plan = _skills_plan()
    build = build_model(plan, _pm(plan), OptimizeOptions())
    assert unsupported(build.problem) is None
    out = solve_pyvrp(build.problem, PyvrpSearch(0.3), build.initial)
    assert out.routes is not None
    cold = next(n for n, s in build.node_stop.items() if s == "cold")
    assert cold in out.routes[1]


def test_insertion_offers_only_vehicles_with_the_skills():
    plan = _skills_plan()
    plan.routes["plain"].remove("cold")
    plan.unassigned.append("cold")
    places = suggest_insertions(plan, _pm(plan), "cold", limit=20)
    assert places and {p.vehicle_id for p in places} == {"fridge"}
    nobody = replace(plan.stops["cold"], skills=frozenset({"crane"}))
    plan.stops["cold"] = nobody
    assert suggest_insertions(plan, _pm(plan), "cold") == []
    assert "crane" in why_no_place(plan, "cold")


def test_drag_check_names_the_missing_skill():
    plan = _skills_plan()
    plan.routes["plain"].remove("cold")
    plan.routes["fridge"].append("cold")
    pm = _pm(plan)
    assert move_violations(plan, pm, ["cold"], "fridge", 0) == []
    problems = move_violations(plan, pm, ["cold"], "plain", 1)
    assert problems == ["plain lacks cold for stop cold"]


# --- paired pickup and delivery -----------------------------------------------------------


def _pair_plan(split: bool = True) -> Plan:
    """Vans from x=0 to x=30. Delivering at x=10 before picking up at x=20 is the short way
    (30 against 50), but the parcel is picked up at x=20 and delivered at x=10."""
    stops = [
        PlanStop("p", (20.0, 0.0), demand=1, kind=StopKind.PICKUP, pair="parcel"),
        PlanStop("d", (10.0, 0.0), demand=1, kind=StopKind.DELIVERY, pair="parcel"),
        PlanStop("x", (15.0, 1.0), demand=1),
    ]
    vehicles = [_vehicle(v, end=(30.0, 0.0)) for v in ("v0", "v1")]
    routes = {"v0": ["p", "x"], "v1": ["d"]} if split else {"v0": ["p", "d", "x"], "v1": []}
    return Plan.build(vehicles, stops, routes)


def _pair_ok(routes: dict[str, list[str]]) -> None:
    vid = next(v for v, r in routes.items() if "p" in r)
    assert "d" in routes[vid]
    assert routes[vid].index("p") < routes[vid].index("d")


@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_keeps_a_pair_on_one_vehicle_pickup_first(engine: str):
    plan = _pair_plan()
    assert pair_violations(plan, {})
    routes, result = _fleet(plan, engine)
    _pair_ok(routes)
    assert result.feasible, result.problems()
    assert result.engine == "ortools"  # PyVRP has no pairs


def test_resequence_keeps_pickup_before_delivery():
    plan = _pair_plan(split=False)
    opts = OptimizeOptions(time_limit_s=QUICK, vehicle_ids=("v0",))
    result = optimize(plan, _pm(plan), opts)
    _pair_ok(result.routes)
    assert result.feasible, result.problems()


def test_local_search_and_ortools_alone_keep_the_pair_order():
    plan = _pair_plan(split=False)
    build = build_model(plan, _pm(plan), OptimizeOptions(vehicle_ids=("v0",)))
    assert build.problem.pairs
    own = resequence(build.problem, build.initial[0], 0.2, 100.0)
    assert own is not None
    names = [build.node_stop[n] for n in own.stops]
    assert names.index("p") < names.index("d")
    out = solve_routing(build.problem, SearchParams(0.3))
    assert out.routes is not None
    names = [build.node_stop[n] for n in out.routes[0]]
    assert names.index("p") < names.index("d")


def test_paired_goods_ride_only_between_their_stops():
    """The delivery of a pair is not loaded at the depot: a van of capacity 1 does it."""
    plan = _pair_plan(split=False)
    plan.vehicles["v0"] = replace(plan.vehicles["v0"], capacity=1)
    plan.stops["x"] = replace(plan.stops["x"], demand=0)
    ev = evaluate_route(_pm(plan), plan.vehicles["v0"], ["p", "d", "x"])
    assert ev.start_load == 0 and ev.overload == 0
    assert move_violations(plan, _pm(plan), ["d"], "v0", 0) == [
        "pair parcel: delivered on v0 before it is picked up"
    ]


def test_unassigning_half_a_pair_is_a_new_violation_and_both_halves_none():
    """Target ``None`` (the unassigned pool): what taking stops off their routes breaks."""
    plan = _pair_plan(split=False)
    pm = _pm(plan)
    assert move_violations(plan, pm, ["d"], None, 0) == [
        "pair parcel: only one of its pickup and delivery is planned"
    ]
    assert move_violations(plan, pm, ["p", "d"], None, 0) == []
    assert move_violations(plan, pm, ["x"], None, 0) == []


def test_a_stop_already_placed_says_what_it_brought_to_its_route():
    """``placement_violations``: a new order or an import put on a route without a move."""
    plan = _pair_plan(split=False)
    pm = _pm(plan)
    assert placement_violations(plan, pm, "d") == []
    plan.routes["v0"] = ["d", "p", "x"]
    assert placement_violations(plan, pm, "d") == [
        "pair parcel: delivered on v0 before it is picked up"
    ]
    plan.stops["x"] = replace(plan.stops["x"], skills=frozenset({"cold"}))
    assert placement_violations(plan, pm, "x") == ["v0 lacks cold for stop x"]
    plan.routes["v0"].remove("x")
    plan.unassigned.append("x")
    assert placement_violations(plan, pm, "x") == []


# --- weight and volume --------------------------------------------------------------------


def _heavy_plan(dimension: str) -> Plan:
    """Two 60-unit parcels next to each other; one van with a fixed cost would take both,
    but it carries only 100 (kg or litres)."""
    limit = {"max_weight": 100} if dimension == "weight" else {"max_volume": 100}
    heavy = 60 if dimension == "weight" else 0
    stops = [
        PlanStop(s, (10.0 + i, 0.0), demand=1, weight=heavy, volume=60 - heavy)
        for i, s in enumerate("ab")
    ]
    vehicles = [_vehicle(v, **limit) for v in ("v0", "v1")]
    return Plan.build(vehicles, stops, {"v0": ["a", "b"], "v1": []})


@pytest.mark.parametrize("dimension", ["weight", "volume"])
@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_honours_weight_and_volume(engine: str, dimension: str):
    plan = _heavy_plan(dimension)
    ev = evaluate_route(_pm(plan), plan.vehicles["v0"], ["a", "b"])
    assert (ev.weight_overload if dimension == "weight" else ev.volume_overload) == 20
    routes, result = _fleet(plan, engine, vehicle_fixed_cost=1000.0)
    assert routes["v0"] and routes["v1"]
    assert result.feasible, result.problems()


def _pickup_weight_plan() -> Plan:
    """A 60-kg delivery at x=20 and a 60-kg pickup at x=10 on a 100-kg van going to x=30:
    picking up first is shorter (30 against 50) but would carry 120 kg."""
    stops = [
        PlanStop("d", (20.0, 0.0), weight=60),
        PlanStop("p", (10.0, 0.0), weight=60, kind=StopKind.PICKUP),
    ]
    van = _vehicle("v0", end=(30.0, 0.0), max_weight=100)
    return Plan.build([van], stops, {"v0": ["d", "p"]})


def test_resequence_local_search_and_ortools_honour_weight_order():
    plan = _pickup_weight_plan()
    result = optimize(plan, _pm(plan), OptimizeOptions(time_limit_s=QUICK, vehicle_ids=("v0",)))
    assert result.routes["v0"] == ["d", "p"]
    assert result.feasible
    build = build_model(plan, _pm(plan), OptimizeOptions(vehicle_ids=("v0",)))
    own = resequence(build.problem, build.initial[0], 0.2, 100.0)
    assert own is not None and [build.node_stop[n] for n in own.stops] == ["d", "p"]
    out = solve_routing(build.problem, SearchParams(0.3), build.initial)  # as optimize does
    assert out.routes is not None and [build.node_stop[n] for n in out.routes[0]] == ["d", "p"]
    assert move_violations(plan, _pm(plan), ["p"], "v0", 0) == ["v0: 20 kg over its weight limit"]


# --- maximum route duration ---------------------------------------------------------------


@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_honours_the_maximum_route_duration(engine: str):
    """Stops at x=±30: one van would do both in 120 s, its maximum is 80 s."""
    stops = [PlanStop("e", (30.0, 0.0)), PlanStop("w", (-30.0, 0.0))]
    vehicles = [_vehicle(v, max_duration_s=80.0) for v in ("v0", "v1")]
    plan = Plan.build(vehicles, stops, {"v0": ["e", "w"], "v1": []})
    assert route_violations(plan, _pm(plan), "v0", ["e", "w"]) == [
        "v0: route 1 min over its maximum"
    ]
    routes, result = _fleet(plan, engine, vehicle_fixed_cost=1000.0)
    assert routes["v0"] and routes["v1"]
    assert result.feasible, result.problems()
    assert all(ev.duration <= 80.0 for ev in result.after.routes.values())


# --- breaks -------------------------------------------------------------------------------


def _break_plan() -> Plan:
    """Four stops along x; s3 and s4 close at 45 and 55. The cheap van's driver must begin a
    30-s break between 15 and 20, after which those two are late: they go to the dear van."""
    stops = [
        PlanStop("s1", (10.0, 0.0)),
        PlanStop("s2", (20.0, 0.0)),
        PlanStop("s3", (30.0, 0.0), window_end=45.0),
        PlanStop("s4", (40.0, 0.0), window_end=55.0),
    ]
    vehicles = [
        _vehicle("cheap", break_window=(15.0, 20.0), break_s=30.0, cost_per_km=1.0),
        _vehicle("dear", cost_per_km=50.0),
    ]
    return Plan.build(vehicles, stops, {"cheap": ["s1", "s2", "s3", "s4"], "dear": []})


def test_the_break_is_placed_in_its_window_and_shifts_the_route():
    plan = _break_plan()
    ev = evaluate_route(_pm(plan), plan.vehicles["cheap"], ["s1", "s2"])
    assert ev.break_start == 15.0 and ev.break_late == 0
    assert np.allclose(ev.service_start, [10.0, 55.0])
    ev = evaluate_route(_pm(plan), plan.vehicles["cheap"], plan.routes["cheap"])
    assert not ev.feasible and ev.late_stops == 2


@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_plans_around_the_break(engine: str):
    plan = _break_plan()
    routes, result = _fleet(plan, engine)
    assert {"s3", "s4"} <= set(routes["dear"])
    assert result.feasible, result.problems()
    cheap = result.after.routes["cheap"]
    if cheap.stop_ids:
        assert cheap.break_start is not None and 15.0 <= cheap.break_start <= 20.0


def test_resequence_keeps_the_break_in_its_window():
    """One van, a break due between 15 and 20: x=10 first, then the break, then x=30 whose
    window opens at 60 (serving it first, while the break is due, would be late)."""
    stops = [PlanStop("far", (30.0, 0.0), window_start=60.0), PlanStop("near", (10.0, 0.0))]
    van = _vehicle("v0", break_window=(15.0, 20.0), break_s=30.0)
    plan = Plan.build([van], stops, {"v0": ["far", "near"]})
    result = optimize(plan, _pm(plan), OptimizeOptions(time_limit_s=QUICK, vehicle_ids=("v0",)))
    ev = result.after.routes["v0"]
    assert ev.break_late == 0 and result.feasible, result.problems()


# --- costs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", FLEET_ENGINES)
def test_fleet_prefers_the_vehicle_without_a_fixed_cost(engine: str):
    stops = [PlanStop("a", (10.0, 0.0))]
    vehicles = [_vehicle("dear", fixed_cost=500.0), _vehicle("free", cost_per_km=1.0)]
    plan = Plan.build(vehicles, stops, {"dear": ["a"], "free": []})
    routes, result = _fleet(plan, engine)
    assert routes["free"] == ["a"]
    assert result.after.cost < result.before.cost


@pytest.mark.parametrize("limit", ["weight", "volume", "duration"])
def test_pyvrp_itself_honours_weight_volume_and_duration(limit: str):
    """PyVRP's own answer, not the OR-Tools fallback's: both stops on one van would be
    cheaper (fixed cost per van) but break the van's limit."""
    if limit == "duration":
        stops = [PlanStop("e", (30.0, 0.0)), PlanStop("w", (-30.0, 0.0))]
        vans = [_vehicle(v, max_duration_s=80.0) for v in ("v0", "v1")]
        plan = Plan.build(vans, stops, {"v0": ["e", "w"], "v1": []})
    else:
        plan = _heavy_plan(limit)
    opts = OptimizeOptions(vehicle_fixed_cost=1000.0)
    build = build_model(plan, _pm(plan), opts)
    assert unsupported(build.problem) is None
    out = solve_pyvrp(build.problem, PyvrpSearch(0.3), build.initial)
    assert out.routes is not None
    assert all(len(r) == 1 for r in out.routes), "one stop per van"


def test_insertion_ranks_a_place_breaking_weight_or_a_pair_after_the_clean_ones():
    """A 60-kg parcel next to v0's full route: v0 is nearer but would carry 120 kg."""
    plan = _heavy_plan("weight")
    plan.routes["v0"].remove("b")
    plan.unassigned.append("b")
    plan.vehicles["v1"] = replace(plan.vehicles["v1"], start=(40.0, 0.0), end=(40.0, 0.0))
    places = suggest_insertions(plan, _pm(plan), "b", limit=10)
    assert places[0].vehicle_id == "v1" and places[0].keeps_feasibility
    heavy = [p for p in places if p.vehicle_id == "v0"]
    assert heavy and all(not p.keeps_feasibility for p in heavy)
    assert heavy[0].violations == ("v0: 20 kg over its weight limit",)
    pair = _pair_plan(split=False)
    pair.routes["v0"].remove("d")
    pair.unassigned.append("d")
    best = suggest_insertions(pair, _pm(pair), "d", limit=10)
    assert best[0].vehicle_id == "v0" and best[0].keeps_feasibility
    assert pair.routes["v0"][: best[0].index].count("p") == 1, "after its pickup"
    assert all(not p.keeps_feasibility for p in best if p.vehicle_id == "v1")
