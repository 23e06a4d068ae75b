"""Urgent order insertion: ranked places that keep the day on time, respecting locks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from planning_builders import random_plan

from dispatcher.errors import ValidationError
from dispatcher.eta import EuclideanProvider
from dispatcher.model.core import StopKind
from dispatcher.planning.commands import MoveToVehicle
from dispatcher.planning.evaluate import evaluate_route
from dispatcher.planning.insertion import suggest_insertions
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop


def with_urgent(plan: Plan, **kw: Any) -> Plan:
    urgent = PlanStop("urgent", (55.0, 55.0), 0.0, 1400.0, 5.0, 1, **kw)
    plan.stops["urgent"] = urgent
    plan.unassigned.append("urgent")
    plan.validate()
    return plan


def test_suggestions_are_ranked_and_match_the_evaluator():
    plan = with_urgent(random_plan(21, 10, 2))
    pm = PlanMatrix.build(plan, EuclideanProvider())
    best = suggest_insertions(plan, pm, "urgent", limit=5)
    assert len(best) == 5
    assert [s.rank_key for s in best] == sorted(s.rank_key for s in best)
    top = best[0]
    MoveToVehicle(["urgent"], top.vehicle_id, top.index).do(plan)
    ev = evaluate_route(pm, plan.vehicles[top.vehicle_id], plan.routes[top.vehicle_id], plan)
    assert ev.duration == pytest.approx(top.evaluation.duration)


def test_cheapest_place_beats_every_other_feasible_place():
    plan = with_urgent(random_plan(22, 8, 2))
    pm = PlanMatrix.build(plan, EuclideanProvider())
    every = suggest_insertions(plan, pm, "urgent", limit=1000)
    feasible = [s for s in every if s.keeps_feasibility]
    if feasible:
        assert every[0].added_duration == min(s.added_duration for s in feasible)
        assert every[0].keeps_feasibility


def test_pins_and_done_stops_are_not_shifted():
    plan = random_plan(23, 8, 1, done=2)
    pinned = plan.routes["v0"][4]
    plan.stops[pinned] = replace(plan.stops[pinned], pinned=True)
    plan = with_urgent(plan)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    assert all(s.index >= 5 for s in suggest_insertions(plan, pm, "urgent", limit=100))


def test_deliveries_are_not_offered_to_vehicles_already_on_the_road():
    plan = random_plan(24, 6, 2)
    plan.vehicles["v1"] = replace(plan.vehicles["v1"], start_time=10.0, current_load=3)
    plan = with_urgent(plan)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    assert {s.vehicle_id for s in suggest_insertions(plan, pm, "urgent", 100)} == {"v0"}
    plan.stops["urgent"] = replace(plan.stops["urgent"], kind=StopKind.PICKUP)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    assert {s.vehicle_id for s in suggest_insertions(plan, pm, "urgent", 100)} == {"v0", "v1"}


def test_unknown_stop_is_a_clear_error():
    plan = random_plan(25, 4, 1)
    with pytest.raises(ValidationError, match="unknown stop"):
        suggest_insertions(plan, PlanMatrix.build(plan, EuclideanProvider()), "nope")


def test_one_rule_for_a_van_on_the_road_in_suggestions_and_manual_moves():
    """The best-place search and a dispatcher's drop obey the same rule, in the same words."""
    from dispatcher.planning.insertion import why_no_place

    plan = random_plan(26, 6, 2)
    for vid in ("v0", "v1"):
        plan.vehicles[vid] = replace(plan.vehicles[vid], start_time=10.0, current_load=3)
    plan = with_urgent(plan)
    pm = PlanMatrix.build(plan, EuclideanProvider())
    assert suggest_insertions(plan, pm, "urgent", 100) == []
    assert why_no_place(plan, "urgent") == (
        "No vehicle can take stop urgent (a delivery) now: all 2 vehicles have left the depot "
        "and its goods are not on board. Plan it for a vehicle's next run from the depot, or "
        "leave it unassigned for tomorrow."
    )
    with pytest.raises(ValidationError, match="v1 has left the depot: the goods of stop urgent"):
        MoveToVehicle(["urgent"], "v1", 0).validate(plan)
    own = plan.routes["v1"][0]  # its own deliveries it may reorder
    MoveToVehicle([own], "v1", 1).validate(plan)
