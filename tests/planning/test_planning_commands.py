"""Route edits: undo restores exactly, fixed stops never move, versions always go up."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_builders import random_plan

from dispatcher.errors import ConflictError, ValidationError
from dispatcher.model.core import StopStatus
from dispatcher.planning.commands import (
    MoveToVehicle,
    MoveWithinRoute,
    ReplaceRoutes,
    RouteCommand,
    Unassign,
    UndoStack,
)
from dispatcher.planning.model import Plan, PlanStop


def snapshot(plan: Plan) -> tuple[dict[str, list[str]], list[str], dict[str, PlanStop]]:
    return (
        {k: list(v) for k, v in plan.routes.items()},
        list(plan.unassigned),
        dict(plan.stops),
    )


@st.composite
def commands(draw: st.DrawFn, plan: Plan) -> RouteCommand:
    """Any edit a dispatcher could try, valid or not."""
    sids = sorted(plan.stops)
    picked = draw(st.lists(st.sampled_from(sids), min_size=1, max_size=3, unique=True))
    vid = draw(st.sampled_from(sorted(plan.vehicles)))
    index = draw(st.integers(0, 10))
    kind = draw(st.sampled_from(["within", "to", "unassign"]))
    if kind == "within":
        return MoveWithinRoute(vid, picked, index)
    if kind == "to":
        return MoveToVehicle(picked, vid, index)
    return Unassign(picked)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(0, 1000), st.integers(0, 2))
def test_any_sequence_of_edits_undoes_to_the_exact_start(data: st.DataObject, seed: int, done: int):
    plan = random_plan(seed, 10, 3, done=done)
    start = snapshot(plan)
    stack = UndoStack(plan)
    for _ in range(data.draw(st.integers(1, 8))):
        cmd = data.draw(commands(plan))
        before = snapshot(plan)
        try:
            stack.push(cmd)
        except ValidationError:
            assert snapshot(plan) == before, "a rejected edit must leave the plan unchanged"
            continue
        plan.validate()
        for vid, route in plan.routes.items():
            assert route[:done] == start[0][vid][:done], "done stops stay the fixed prefix"
    applied = []
    while stack.can_undo:
        applied.append(snapshot(plan))
        stack.undo()
    assert snapshot(plan) == start
    while stack.can_redo:
        stack.redo()
        assert snapshot(plan) == applied.pop()


def test_moving_a_block_within_a_route():
    plan = random_plan(1, 6, 1)
    stack = UndoStack(plan)
    stack.push(MoveWithinRoute("v0", ["s4", "s1"], 0))
    assert plan.routes["v0"] == ["s4", "s1", "s0", "s2", "s3", "s5"]
    assert plan.versions["v0"] == 1
    stack.undo()
    assert plan.routes["v0"] == ["s0", "s1", "s2", "s3", "s4", "s5"]
    assert plan.versions["v0"] == 2, "an undo is a new write for optimistic locking"


def test_done_and_in_progress_stops_cannot_move():
    plan = random_plan(2, 6, 1, done=1)
    plan.stops["s1"] = replace(plan.stops["s1"], status=StopStatus.ARRIVED)
    with pytest.raises(ValidationError, match="done or in progress"):
        MoveWithinRoute("v0", ["s0"], 3).do(plan)
    with pytest.raises(ValidationError, match="done or in progress"):
        MoveToVehicle(["s1"], "v0", 3).do(plan)
    with pytest.raises(ValidationError, match="before done"):
        MoveWithinRoute("v0", ["s4"], 1).do(plan)


def test_a_stop_dragged_to_another_vehicle_stays_on_it():
    plan = random_plan(3, 6, 2)
    stack = UndoStack(plan)
    stack.push(MoveToVehicle(["s0"], "v1", 1))
    assert plan.routes["v1"][1] == "s0"
    assert plan.stops["s0"].keep_vehicle
    stack.undo()
    assert not plan.stops["s0"].keep_vehicle


def test_stale_edit_is_a_conflict():
    plan = random_plan(4, 6, 2)
    MoveWithinRoute("v0", ["s0"], 1).do(plan)
    with pytest.raises(ConflictError):
        MoveWithinRoute("v0", ["s2"], 0, expected_versions={"v0": 0}).do(plan)


def test_replacing_routes_keeps_the_done_prefix():
    plan = random_plan(5, 6, 2, done=1)
    bad = {vid: list(reversed(r)) for vid, r in plan.routes.items()}
    with pytest.raises(ValidationError, match="done stops"):
        ReplaceRoutes(bad).do(plan)
    good = {vid: [r[0], *reversed(r[1:])] for vid, r in plan.routes.items()}
    stack = UndoStack(plan)
    stack.push(ReplaceRoutes(good))
    assert plan.routes == good


def test_nothing_to_undo_is_a_clear_error():
    with pytest.raises(ValidationError, match="nothing to undo"):
        UndoStack(random_plan(6)).undo()


def test_forgetting_another_desks_vehicles_keeps_every_other_step():
    """Issue 24: a colleague saved v1: only the steps that changed v1 go."""
    plan = random_plan(4, 9, 3)
    stack = UndoStack(plan)
    v0 = list(plan.routes["v0"])
    stack.push(MoveWithinRoute("v0", [plan.routes["v0"][1]], 0))
    stack.push(MoveWithinRoute("v1", [plan.routes["v1"][1]], 0))
    stack.push(MoveToVehicle([plan.routes["v2"][0]], "v1", 0))
    stack.push(MoveWithinRoute("v2", [plan.routes["v2"][1]], 0))
    stack.undo()  # the v2 step waits on the redo list
    assert stack.forget({"v1"}) == 2
    assert stack.vehicles_in_history() == {"v0", "v2"}
    stack.redo()
    stack.undo()
    stack.undo()
    assert plan.routes["v0"] == v0 and not stack.can_undo


def test_a_changed_pool_drops_the_steps_that_would_restore_it():
    plan = random_plan(5, 9, 2)
    stack = UndoStack(plan)
    stack.push(MoveWithinRoute("v0", [plan.routes["v0"][1]], 0))
    stack.push(Unassign([plan.routes["v1"][0]]))
    stack.push(MoveWithinRoute("v0", [plan.routes["v0"][2]], 0))
    stack.undo()
    assert stack.forget(set(), pool=True) == 2, "the unassign step and the redo list"
    assert stack.can_undo and not stack.can_redo
