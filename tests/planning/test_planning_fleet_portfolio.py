"""The fleet planner's portfolio: the reduction arm beside a plain PyVRP arm, the better
feasible answer kept, today's single-process path where no second core can be used.

The arms are real; where a test needs the reduction arm to lose, fail or hang, its entry
point :func:`dispatcher.planning.vrptw._reduction_arm` is replaced (the forked child
inherits the replacement), never the choice around it.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from dispatcher.cli import build_parser, run_headless
from dispatcher.config import Settings
from dispatcher.errors import DispatcherError
from dispatcher.planning import fleet_portfolio, vrptw
from dispatcher.planning.fleet_portfolio import Answer, can_run_beside, choose
from dispatcher.planning.solomon import SolomonInstance
from dispatcher.planning.vrptw import PyvrpTuning, solve_vrptw

needs_two_cores = pytest.mark.skipif(not can_run_beside(), reason="no second core or no fork")


def tiny() -> SolomonInstance:
    """Six customers of demand 10 around the depot, capacity 30: two vehicles are enough."""
    pts = [(0, 0), (10, 0), (12, 3), (0, 10), (-10, 0), (-11, -4), (0, -10)]
    n = len(pts)
    return SolomonInstance(
        "tiny",
        6,
        30,
        np.array([p[0] for p in pts], dtype=float),
        np.array([p[1] for p in pts], dtype=float),
        np.array([0.0] + [10.0] * (n - 1)),
        np.zeros(n),
        np.array([1000.0] + [400.0] * (n - 1)),
        np.array([0.0] + [5.0] * (n - 1)),
    )


ONE_EACH = [[c] for c in range(1, 7)]
"""Feasible, but six vehicles."""
OVERLOADED = [[1, 2, 3, 4, 5, 6]]
"""One vehicle carrying 60 with a capacity of 30: never acceptable."""


# -- the choice rule ------------------------------------------------------------------------


def test_fewer_vehicles_win_even_when_longer():
    inst = tiny()
    two = [[1, 2, 3], [4, 5, 6]]
    three = [[1, 2], [3, 4], [5, 6]]
    assert inst.route_distance(two) > 0 and not inst.check(two) and not inst.check(three)
    won = choose(inst, [Answer("plain", three), Answer("reduction", two)])
    assert won is not None and won.engine == "reduction"


def test_at_equal_vehicles_the_shorter_wins():
    inst = tiny()
    good = [[1, 2, 3], [4, 5, 6]]
    worse = [[1, 4, 2], [3, 5, 6]]
    assert inst.route_distance(worse) > inst.route_distance(good)
    won = choose(inst, [Answer("reduction", worse), Answer("plain", good)])
    assert won is not None and (won.engine, won.routes) == ("plain", good)


def test_an_infeasible_or_empty_answer_never_wins():
    inst = tiny()
    late = tiny()
    late.due[1:] = 12.0  # only the nearest customer of each route is reachable in time
    answers = [Answer("reduction", OVERLOADED), Answer("plain", ONE_EACH)]
    won = choose(inst, answers)
    assert won is not None and won.engine == "plain"
    assert choose(late, [Answer("reduction", [[1, 2, 3], [4, 5, 6]])]) is None
    assert choose(inst, [Answer("reduction", None), Answer("plain", [])]) is None
    assert choose(inst, [Answer("reduction", [[1, 2, 3]])]) is None  # customers missing


def test_a_tie_keeps_the_reduction_arm_and_empty_routes_are_dropped():
    inst = tiny()
    routes = [[1, 2, 3], [4, 5, 6]]
    won = choose(inst, [Answer("reduction", [*routes, []]), Answer("plain", routes)])
    assert won is not None and (won.engine, won.routes) == ("reduction", routes)


# -- both arms, real searches ---------------------------------------------------------------


@needs_two_cores
def test_both_arms_run_and_the_answer_is_feasible():
    inst = tiny()
    result = solve_vrptw(inst, 0.6)
    assert inst.check(result.routes) == []
    assert result.vehicles == 2, result.log
    assert result.engine in ("reduction", "plain")
    assert any(line.startswith("plain arm: 2 routes") for line in result.log), result.log
    assert f"kept: {result.engine}" in result.log


@needs_two_cores
def test_the_plain_arm_wins_over_a_worse_reduction_arm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(vrptw, "_reduction_arm", lambda *a, **k: ([*ONE_EACH], ["six"]))
    inst = tiny()
    result = solve_vrptw(inst, 0.6)
    assert (result.engine, result.vehicles) == ("plain", 2), result.log
    assert inst.check(result.routes) == []
    assert "six" in result.log, "the reduction arm's log comes back from the child"


def _raises(*args: object, **kwargs: object) -> object:
    raise RuntimeError("the reduction arm broke")


def _hangs(*args: object, **kwargs: object) -> object:
    time.sleep(30)
    return [], []


def _reports_then_hangs(*args: object, **kwargs: object) -> object:
    report = args[-1]
    assert callable(report)
    report(([list(r) for r in ONE_EACH], ["one each"]))
    return _hangs()


def _overloads(*args: object, **kwargs: object) -> object:
    return [list(r) for r in OVERLOADED], []


@needs_two_cores
@pytest.mark.parametrize(
    ("arm", "status"),
    [(_raises, "failed"), (_hangs, "timeout"), (_overloads, None)],
    ids=["raises", "hangs", "infeasible"],
)
def test_a_failing_hanging_or_infeasible_reduction_arm_leaves_the_plain_answer(
    monkeypatch: pytest.MonkeyPatch, arm: object, status: str | None
):
    monkeypatch.setattr(vrptw, "_reduction_arm", arm)
    inst = tiny()
    result = solve_vrptw(inst, 0.5)
    assert result.engine == "plain", result.log
    assert inst.check(result.routes) == [] and result.vehicles == 2
    if status is not None:
        assert f"reduction arm: {status}" in result.log


@needs_two_cores
def test_a_late_reduction_arm_still_competes_with_what_it_reported(
    monkeypatch: pytest.MonkeyPatch,
):
    """A search that overruns on a busy machine: its last report is kept and compared."""
    monkeypatch.setattr(vrptw, "_reduction_arm", _reports_then_hangs)
    monkeypatch.setattr(vrptw, "choose", _spy_choose)
    inst = tiny()
    result = solve_vrptw(inst, 0.5)
    assert result.log[:2] == ("one each", "reduction arm: timeout"), result.log
    assert SEEN[-1][0] == Answer("reduction", ONE_EACH)
    assert result.engine == "plain" and inst.check(result.routes) == []


SEEN: list[list[Answer]] = []


def _spy_choose(inst: SolomonInstance, answers: list[Answer]) -> Answer | None:
    SEEN.append(list(answers))
    return choose(inst, answers)


@needs_two_cores
def test_a_cancel_stops_both_arms():
    import threading

    cancel = threading.Event()
    cancel.set()
    result = solve_vrptw(tiny(), 20.0, cancel=cancel)
    assert result.routes == [] or tiny().check(result.routes) == []


# -- today's path where the portfolio cannot or may not run ---------------------------------


def _single_process(result: vrptw.VrptwResult) -> bool:
    return result.engine == "reduction" and not any("arm" in line for line in result.log)


def test_portfolio_off_runs_the_reduction_arm_alone():
    inst = tiny()
    result = solve_vrptw(inst, 0.4, pyvrp_tuning=PyvrpTuning(portfolio=False))
    assert _single_process(result), result.log
    assert inst.check(result.routes) == [] and result.vehicles == 2


def test_one_core_runs_the_reduction_arm_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert not can_run_beside()
    result = solve_vrptw(tiny(), 0.4)
    assert _single_process(result), result.log


def test_without_affinity_the_cpu_count_decides(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr("os.sched_getaffinity", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert fleet_portfolio.cores() == 1 and not can_run_beside()


def test_a_fork_that_fails_runs_the_reduction_arm_here(monkeypatch: pytest.MonkeyPatch):
    def no_fork(self: object) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(vrptw, "can_run_beside", lambda: True)
    monkeypatch.setattr("multiprocessing.process.BaseProcess.start", no_fork)
    inst = tiny()
    result = solve_vrptw(inst, 0.4)
    assert _single_process(result), result.log
    assert inst.check(result.routes) == []


def _report_can_run_beside(conn: object) -> None:
    conn.send(can_run_beside())  # type: ignore[attr-defined]  # a Connection


def test_a_daemonic_process_does_not_fork_an_arm():
    """A daemonic process may not start children: it runs the reduction arm alone."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_report_can_run_beside, args=(sender,), daemon=True)
    child.start()
    assert receiver.poll(10) and receiver.recv() is False
    child.join(timeout=5)


# -- dispatcher solve -----------------------------------------------------------------------


def _instance_file(tmp_path: Path) -> Path:
    rows = [(0, 0, 0, 0, 0, 1000, 0), (1, 10, 0, 5, 0, 500, 1), (2, 0, 10, 5, 0, 500, 1)]
    lines = ["TINY", "", "VEHICLE", "NUMBER     CAPACITY", "  3  50", "", "CUSTOMER"]
    lines += ["CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME", " "]
    lines += ["  ".join(f"{v:g}" for v in row) for row in rows]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_solve_says_which_arm_found_the_routes_and_honours_the_setting(tmp_path: Path):
    path = str(_instance_file(tmp_path))
    args = build_parser().parse_args(["solve", path, "--time-limit", "0.3", "--json"])
    out = io.StringIO()
    off = Settings(sections={"planning": {"portfolio": False}})
    assert run_headless(args, off, out) == 0
    doc = json.loads(out.getvalue())
    assert (doc["vehicles"], doc["engine"]) == (1, "reduction")
    args = build_parser().parse_args(["solve", path, "--time-limit", "0.3"])
    out = io.StringIO()
    assert run_headless(args, Settings(), out) == 0
    assert "engine reduction" in out.getvalue() or "engine plain" in out.getvalue()


def test_solve_refuses_a_portfolio_setting_that_is_not_a_boolean(tmp_path: Path):
    args = build_parser().parse_args(["solve", str(_instance_file(tmp_path)), "--json"])
    bad = Settings(sections={"planning": {"portfolio": "sometimes"}})
    with pytest.raises(DispatcherError, match="portfolio"):
        run_headless(args, bad, io.StringIO())
