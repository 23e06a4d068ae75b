"""The optimizer in a child process: same kind of result, progress, cancel, errors."""

from __future__ import annotations

import threading

import pytest
from planning_builders import random_plan

from dispatcher.errors import ValidationError
from dispatcher.eta import EuclideanProvider
from dispatcher.planning.model import PlanMatrix
from dispatcher.planning.optimize import OptimizeOptions
from dispatcher.planning.worker import optimize_in_subprocess


def test_child_process_returns_a_valid_preview_and_reports_progress():
    plan = random_plan(41, 30, 3)
    seen: list[float] = []
    result = optimize_in_subprocess(
        plan,
        PlanMatrix.build(plan, EuclideanProvider()),
        OptimizeOptions(time_limit_s=0.5),
        progress=lambda best, _elapsed: seen.append(best),
    )
    assert result.honours_locks
    assert seen
    assert result.after.distance <= result.before.distance + 1e-6


def test_a_resequence_in_the_child_runs_both_engines():
    """The worker process may start the portfolio's OR-Tools child (it is no daemon)."""
    plan = random_plan(44, 12, 1)
    result = optimize_in_subprocess(
        plan,
        PlanMatrix.build(plan, EuclideanProvider()),
        OptimizeOptions(time_limit_s=0.5, vehicle_ids=("v0",)),
    )
    assert result.engine in ("local", "ortools")
    assert result.ortools_status in ("better", "worse"), "OR-Tools answered beside the search"
    assert result.honours_locks


def test_cancel_reaches_the_child_process():
    plan = random_plan(42, 80, 4)
    cancel = threading.Event()

    def progress(best: float, elapsed: float) -> None:
        cancel.set()

    result = optimize_in_subprocess(
        plan,
        PlanMatrix.build(plan, EuclideanProvider()),
        OptimizeOptions(time_limit_s=30),
        cancel,
        progress,
    )
    assert result.cancelled
    assert result.elapsed_s < 10


def test_errors_in_the_child_are_raised_here():
    plan = random_plan(43, 5, 1)
    with pytest.raises(ValidationError, match="unknown vehicle"):
        optimize_in_subprocess(
            plan,
            PlanMatrix.build(plan, EuclideanProvider()),
            OptimizeOptions(time_limit_s=0.2, vehicle_ids=("nope",)),
        )
