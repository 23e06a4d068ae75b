"""The evaluator agrees with a slow, obviously-correct loop, and the diff reads right."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_builders import random_plan

from dispatcher.eta import EuclideanProvider, SpeedProfile
from dispatcher.model.core import StopKind, StopStatus
from dispatcher.planning.evaluate import diff, evaluate_plan, evaluate_route
from dispatcher.planning.model import Plan, PlanMatrix, PlanVehicle


def latest_departure(pm: PlanMatrix, vehicle: PlanVehicle, first: str, ws: float) -> float:
    """A depot vehicle leaves as late as its first window allows: the latest of all the
    candidate departures (shift start, "window start minus the leg at each factor", just
    before each speed-period boundary) that still arrives by the window's start."""
    prof = pm.matrix.profile
    t0 = vehicle.departure
    free = pm.matrix.duration[pm.start_node[vehicle.id], pm.stop_node[first]]
    if t0 + free * prof.factor_at_scalar(t0) >= ws:
        return t0  # no waiting at the first stop: leaves at shift start
    day = t0 - t0 % 86_400
    edges = [day + k * 86_400 + b - 1e-3 for k in (0, 1, 2) for b in prof.boundaries_s]
    candidates = [t0, *(ws - free * f for f in prof.factors), *edges]
    return max(
        d for d in candidates if d >= t0 and d + free * prof.factor_at_scalar(d) <= ws + 1e-9
    )


def reference(pm: PlanMatrix, plan: Plan, vehicle: PlanVehicle, route: list[str]) -> dict:
    """Leg by leg, the way a person would compute it on paper."""
    route = [s for s in route if not plan.stops[s].status.is_final]
    prof = pm.matrix.profile
    t = vehicle.departure
    if vehicle.start_time is None and route:
        t = latest_departure(pm, vehicle, route[0], plan.stops[route[0]].window_start)
    here = pm.start_node[vehicle.id]
    load = vehicle.current_load
    if load is None:
        load = sum(plan.stops[s].demand for s in route if plan.stops[s].kind is StopKind.DELIVERY)
    max_load, dist, late = load, 0.0, []
    arrivals = []
    for sid in route:
        stop, node = plan.stops[sid], pm.stop_node[sid]
        dist += pm.matrix.distance[here, node]
        t += pm.matrix.duration[here, node] * prof.factor_at_scalar(t)
        arrivals.append(t)
        t = max(t, stop.window_start)
        late.append(max(0.0, t - stop.window_end))
        t += stop.service_s
        load += stop.load_delta
        max_load = max(max_load, load)
        here = node
    if vehicle.id in pm.end_node:
        node = pm.end_node[vehicle.id]
        dist += pm.matrix.distance[here, node]
        t += pm.matrix.duration[here, node] * prof.factor_at_scalar(t)
    return {
        "arrivals": arrivals,
        "late": late,
        "distance": dist,
        "end": t,
        "max_load": max_load,
        "overtime": max(0.0, t - vehicle.shift_end),
    }


def assert_matches(pm: PlanMatrix, plan: Plan) -> None:
    for vid, route in plan.routes.items():
        vehicle = plan.vehicles[vid]
        got = evaluate_route(pm, vehicle, route, plan)
        want = reference(pm, plan, vehicle, route)
        np.testing.assert_allclose(got.arrival, want["arrivals"], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(got.lateness, want["late"], rtol=1e-9, atol=1e-6)
        assert math.isclose(got.distance, want["distance"], rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(got.end_time, want["end"], rel_tol=1e-9, abs_tol=1e-6)
        assert got.max_load == want["max_load"]
        assert math.isclose(got.overtime, want["overtime"], abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 15), st.integers(0, 3), st.booleans())
def test_evaluation_equals_reference_in_the_plane(seed: int, n: int, done: int, tight: bool):
    plan = random_plan(seed, n, 2, done=done, tight=tight)
    assert_matches(PlanMatrix.build(plan, EuclideanProvider()), plan)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.floats(0, 86_400 * 2))
def test_evaluation_with_rush_hours_equals_reference(seed: int, n: int, start: float):
    """Legs crossing a rush-hour boundary take the factor of their departure time."""
    plan = random_plan(seed, n, 1)
    h = 3600.0
    profile = SpeedProfile((0.0, 0.1 * h, 0.2 * h, 0.25 * h), (1.0, 1.5, 1.0, 2.0))
    v = plan.vehicles["v0"]
    plan.vehicles["v0"] = replace(v, shift_start=start, shift_end=start + 1500)
    assert_matches(PlanMatrix.build(plan, EuclideanProvider(profile=profile)), plan)


def test_live_vehicle_starts_now_with_its_load_and_skips_done_stops():
    plan = random_plan(3, 8, 1, done=2)
    v = replace(plan.vehicles["v0"], start=(10.0, 10.0), start_time=300.0, current_load=7)
    plan.vehicles["v0"] = v
    pm = PlanMatrix.build(plan, EuclideanProvider())
    ev = evaluate_route(pm, v, plan.routes["v0"], plan)
    assert ev.stop_ids == tuple(plan.routes["v0"][2:])
    assert ev.start_load == 7
    assert ev.arrival[0] >= 300.0
    assert_matches(pm, plan)


def test_in_progress_stop_is_evaluated_first():
    plan = random_plan(4, 5, 1)
    first = plan.routes["v0"][0]
    plan.stops[first] = replace(plan.stops[first], status=StopStatus.ARRIVED)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    ev = evaluate_route(pm, plan.vehicles["v0"], plan.routes["v0"], plan)
    assert ev.stop_ids[0] == first


def test_overload_is_reported():
    plan = random_plan(5, 10, 1, pickups=False)
    v = replace(plan.vehicles["v0"], capacity=1)
    plan.vehicles["v0"] = v
    ev = evaluate_route(PlanMatrix.build(plan, EuclideanProvider()), v, plan.routes["v0"])
    assert ev.overload == ev.max_load - 1 > 0
    assert not ev.feasible


def test_empty_route_costs_the_way_home_only():
    plan = random_plan(6, 0, 1)
    v = replace(plan.vehicles["v0"], start=(50.0, 60.0))
    plan.vehicles["v0"] = v
    ev = evaluate_route(PlanMatrix.build(plan, EuclideanProvider()), v, [])
    assert math.isclose(ev.distance, 10.0)
    assert ev.late_stops == 0


def test_diff_summarises_a_change_for_the_status_line():
    plan = random_plan(7, 12, 2, tight=True)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    before = evaluate_plan(pm, plan)
    after_plan = plan.copy()
    after_plan.routes["v0"].reverse()
    after = evaluate_plan(pm, after_plan)
    d = diff(before, after)
    assert math.isclose(d.distance_delta, after.distance - before.distance)
    assert f"{before.late_stops} late → {after.late_stops} late" in d.summary(1.0, "")
    late = after.late_stops
    assert diff(after, after).summary() == f"±0.0 km, ±0 min, {late} late → {late} late"


def test_a_change_reads_plus_minus_or_plus_minus_zero_never_plus_minus_0() -> None:
    from dispatcher.planning.evaluate import signed

    assert [signed(v) for v in (4.2, -3.4, -0.2, 0.2, 0.0)] == ["+4", "-3", "±0", "±0", "±0"]
    assert signed(-0.04, 1) == "±0.0" and signed(1.25, 1) == "+1.2"
