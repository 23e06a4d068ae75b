"""lock_violations catches every broken lock (so a preview can prove it honours them)."""

from __future__ import annotations

from dataclasses import replace

from planning_builders import random_plan

from dispatcher.model.core import StopStatus
from dispatcher.planning.locks import lock_violations
from dispatcher.planning.model import Plan


def plan_with_locks() -> Plan:
    """v0: s0 done, s2 pinned at index 1, s4/s6 an order group; v1: s1 kept on its vehicle."""
    plan = random_plan(31, 8, 2)
    plan.stops["s0"] = replace(plan.stops["s0"], status=StopStatus.DONE)
    plan.stops["s2"] = replace(plan.stops["s2"], pinned=True)
    plan.stops["s4"] = replace(plan.stops["s4"], order_group="g")
    plan.stops["s6"] = replace(plan.stops["s6"], order_group="g")
    plan.stops["s1"] = replace(plan.stops["s1"], keep_vehicle=True)
    plan.validate()
    return plan


def test_the_current_plan_breaks_no_lock():
    plan = plan_with_locks()
    assert plan.routes["v0"] == ["s0", "s2", "s4", "s6"]
    assert lock_violations(plan, plan.routes) == []


def test_moving_a_done_or_pinned_stop_is_caught():
    plan = plan_with_locks()
    assert lock_violations(plan, {"v0": ["s2", "s0", "s4", "s6"]}) != []
    assert lock_violations(plan, {"v0": ["s0", "s4", "s2", "s6"]}) != []


def test_splitting_or_reordering_a_group_is_caught():
    plan = plan_with_locks()
    assert lock_violations(plan, {"v0": ["s0", "s2", "s6", "s4"]}) != []
    split = {"v0": ["s0", "s2", "s4"], "v1": [*plan.routes["v1"], "s6"]}
    assert lock_violations(plan, split) != []
    assert (
        lock_violations(
            plan,
            {
                "v0": ["s0", "s2", "s4", "s7", "s6"],
                "v1": [s for s in plan.routes["v1"] if s != "s7"],
            },
        )
        == []
    )


def test_taking_a_kept_stop_off_its_vehicle_is_caught():
    plan = plan_with_locks()
    moved = {"v0": [*plan.routes["v0"], "s1"], "v1": [s for s in plan.routes["v1"] if s != "s1"]}
    assert any("s1" in p for p in lock_violations(plan, moved))


def test_losing_or_duplicating_a_stop_is_caught():
    plan = plan_with_locks()
    assert lock_violations(plan, {"v0": ["s0", "s2", "s4"]}) != []
    assert lock_violations(plan, {"v0": ["s0", "s2", "s4", "s6", "s3"]}) != []
