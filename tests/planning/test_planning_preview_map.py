"""The optimizer preview's map payload (dispatcher/maps/optimize_preview.py): each vehicle's
route before and after, in its colour, the stops that move marked, the pool when it counts."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from planning_builders import random_plan

from dispatcher.eta import EuclideanProvider
from dispatcher.maps.jsbridge import to_js
from dispatcher.maps.optimize_preview import (
    MOVED_NONE,
    MOVED_PLACE,
    MOVED_VEHICLE,
    preview_payload,
)
from dispatcher.planning.dayplan import DayPlan
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import OptimizeOptions, optimize

COLOURS = ("#111111", "#222222")


def day_of(plan: Plan) -> DayPlan:
    origin = datetime(2026, 11, 20, tzinfo=ZoneInfo("Europe/Berlin"))
    return DayPlan(date(2026, 11, 20), origin, plan, {}, {}, {}, {})


def test_every_vehicle_has_its_route_before_and_after_and_every_move_is_marked() -> None:
    plan = random_plan(31, 14, 3)
    plan.unassigned.append(plan.routes["v2"].pop())
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), OptimizeOptions(1.0))
    payload = preview_payload(day_of(plan), result, COLOURS, whole_fleet=True)
    vehicles, stops = payload["vehicles"], payload["stops"]
    assert [v["id"] for v in vehicles] == ["v0", "v1", "v2"]
    assert [v["colour"] for v in vehicles] == ["#111111", "#222222", "#111111"]  # cycled
    ref = {s[2]: i for i, s in enumerate(stops)}  # no StopView: the stop id stands in
    for v in vehicles:
        assert v["before"] == [ref[s] for s in plan.routes[v["id"]]]
        assert v["after"] == [ref[s] for s in result.routes[v["id"]]]
        assert v["start"] == [50.0, 50.0] and v["end"] == [50.0, 50.0]
    assert payload["unassigned"]["before"] == [ref[s] for s in plan.unassigned]
    assert payload["unassigned"]["after"] == [ref[s] for s in result.unassigned]
    marks = {s[2]: s[5] for s in stops}
    assert {s for s, m in marks.items() if m == MOVED_VEHICLE} == set(result.changed_vehicle)
    assert {s for s, m in marks.items() if m != MOVED_NONE} == set(result.moved)
    assert MOVED_PLACE in marks.values() or set(result.moved) == set(result.changed_vehicle)
    assert all(s[8] for s in stops if s[2] not in result.unassigned)  # a proposed ETA each
    assert "<" not in to_js(payload)  # safe to inline in the page's script block


def test_one_route_preview_leaves_the_pool_out() -> None:
    plan = random_plan(32, 10, 2)
    plan.unassigned.append(plan.routes["v1"].pop())
    options = OptimizeOptions(1.0, vehicle_ids=("v0",))
    result = optimize(plan, PlanMatrix.build(plan, EuclideanProvider()), options)
    payload = preview_payload(day_of(plan), result, COLOURS, whole_fleet=False)
    assert [v["id"] for v in payload["vehicles"]] == ["v0"]
    assert payload["unassigned"] == {"before": [], "after": []}
