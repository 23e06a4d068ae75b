"""Resequencing one route with two engines at once: our local search and OR-Tools.

Neither engine wins everywhere: the local search (:mod:`dispatcher.planning.tsptw`) is
much faster on long routes with windows, OR-Tools' guided local search sometimes finds a
different basin (small routes, groups and pickups, where our search falls back to its numpy
descent). So both run on every resequence, within the same time limit, and the better
route by the local search's objective (time warp first, then cost; see
:func:`~dispatcher.planning.reseq.improves_on`) is the preview.

Why a forked process and not a thread: OR-Tools keeps the GIL for the whole search, so a
thread would stop the local search. A ``fork`` child inherits the problem without pickling
and starts in a few milliseconds (a ``spawn`` child would spend ~0.5 s importing); it is
warm-started from the current route (the local search's is not known yet) and gets the
limit minus a margin; the parent collects it at the deadline and kills it if it is late,
so one engine's failure or timeout never costs the other's result. Where ``fork`` is not
available, OR-Tools runs after the local search with :data:`SEQUENTIAL_SHARE` of the limit,
warm-started from the local search's route.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from dispatcher.clock import system_monotonic
from dispatcher.planning.reseq import Resequenced, improves_on, resequence, route_problem
from dispatcher.planning.routing import (
    CancelToken,
    ProgressCallback,
    RoutingOutcome,
    RoutingProblem,
    SearchParams,
    solve_routing,
)
from dispatcher.planning.tsptw import respects_locks, route_cost

MARGIN_S = 0.05
"""OR-Tools' budget ends this much before the limit: its finalizer and the pipe need time."""
GRACE_S = 0.2
"""How long after the limit the parent waits for the OR-Tools child before killing it."""
SEQUENTIAL_SHARE = 0.25
"""Share of the limit OR-Tools gets after the local search where ``fork`` is unavailable."""
PARALLEL = "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class PortfolioResult:
    """The winning route, which engine found it, and what the loser did (for the bench)."""

    outcome: RoutingOutcome
    on_time: bool
    engine: str
    """``"local"`` or ``"ortools"``."""
    ortools_status: str
    """``"worse"``, ``"better"``, ``"no route"`` (infeasible / nothing in time),
    ``"timeout"`` (killed after the limit) or ``"failed"``."""


def _ortools_child(
    problem: RoutingProblem,
    budget_s: float,
    initial: list[list[int]],
    stop: Any,
    conn: Connection,
) -> None:
    """Body of the forked OR-Tools process: solve, send ``(routes, objective)``."""
    _die_with_parent()
    try:
        out = solve_routing(problem, SearchParams(budget_s), initial, stop)
        conn.send((out.routes, out.objective, out.cancelled))
    except Exception as exc:  # reported to the parent, which keeps its own route
        conn.send(("error", repr(exc), False))
    finally:
        conn.close()


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies (a killed optimizer worker leaves no solver
    running on). Elsewhere the child ends at its own time limit."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _solve_problem(problem: RoutingProblem, on_time: bool, late: int) -> RoutingProblem:
    """``problem`` with hard windows when the start is on time, else soft at ``late``."""
    return replace(problem, late_penalty=None if on_time else late, drop_penalty=None)


def portfolio(
    problem: RoutingProblem,
    stops: list[int],
    start_on_time: bool,
    time_limit_s: float,
    late_weight: int,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
    *,
    parallel: bool | None = None,
) -> PortfolioResult | None:
    """Local search and OR-Tools on one route's ``stops``; the better route wins.

    ``None`` when ``stops`` breaks a lock (the caller then runs OR-Tools' own fallbacks).
    Both engines keep pinned stops in place, the in-progress stop first and order groups in
    order (the OR-Tools model encodes them as constraints); a route of OR-Tools' with fewer
    stops never wins.
    """
    t0 = system_monotonic()
    if parallel is None:  # a daemonic process (not the worker's) may not start children
        parallel = PARALLEL and not multiprocessing.current_process().daemon
    if not respects_locks(route_problem(problem, float(late_weight)), stops):
        return None
    child = None
    if parallel and time_limit_s > MARGIN_S * 2:
        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        receiver, sender = ctx.Pipe(duplex=False)
        model = _solve_problem(problem, start_on_time, late_weight)
        budget = time_limit_s - MARGIN_S - (system_monotonic() - t0)
        child = ctx.Process(
            target=_ortools_child, args=(model, budget, [stops], stop, sender), daemon=True
        )
        try:
            child.start()
        except OSError:  # no process to spare (limits, memory): OR-Tools runs afterwards
            child = None
            receiver.close()
        sender.close()
    own_limit = time_limit_s if child is not None else time_limit_s * (1 - SEQUENTIAL_SHARE)
    own = resequence(problem, stops, own_limit, late_weight, cancel, progress)
    assert own is not None  # the locks were checked above
    if child is not None:
        out, status = _collect(child, receiver, stop, t0 + time_limit_s, cancel)
    else:
        out, status = _after(problem, own, t0 + time_limit_s, late_weight, cancel)
    mine = RoutingOutcome([own.stops], own.objective, own.cancelled, own.elapsed_s)
    if out is not None and out.routes is not None and improves_on(own, problem, out):
        elapsed = system_monotonic() - t0
        won = RoutingOutcome(out.routes, out.objective, own.cancelled, elapsed)
        return PortfolioResult(won, _on_time(problem, out.routes[0]), "ortools", "better")
    if out is None or out.routes is None:
        status = status or "no route"
    return PortfolioResult(
        replace(mine, elapsed_s=system_monotonic() - t0), own.on_time, "local", status or "worse"
    )


def _on_time(problem: RoutingProblem, route: list[int]) -> bool:
    return route_cost(route_problem(problem, 1.0), route)[1] <= 0.0


def _collect(
    child: Any, receiver: Connection, stop: Any, deadline: float, cancel: CancelToken | None
) -> tuple[RoutingOutcome | None, str]:
    """The OR-Tools child's answer by ``deadline`` (+ grace), the child gone afterwards.

    Cancelled: the child is told to stop and gets only the grace (its route so far, if it
    arrives by then, still competes).
    """
    if cancel is not None and cancel.is_set():
        stop.set()
        deadline = system_monotonic()
    try:
        wait = max(0.0, deadline - system_monotonic()) + GRACE_S
        if not receiver.poll(wait):
            return None, "timeout"
        try:
            routes, objective, cancelled = receiver.recv()
        except EOFError:
            return None, "failed"
        if routes == "error":
            return None, "failed"
        return RoutingOutcome(routes, float(objective), bool(cancelled), 0.0), ""
    finally:
        receiver.close()
        stop.set()
        child.join(timeout=0.05)
        if child.is_alive():
            child.kill()
            child.join(timeout=1.0)


def _after(
    problem: RoutingProblem,
    own: Resequenced,
    deadline: float,
    late: int,
    cancel: CancelToken | None,
) -> tuple[RoutingOutcome | None, str]:
    """OR-Tools after the local search, from its route, with the time left (no ``fork``)."""
    budget = deadline - system_monotonic() - MARGIN_S
    if own.cancelled or budget < 0.02:
        return None, "no time"
    model = _solve_problem(problem, own.on_time, late)
    return solve_routing(model, SearchParams(budget), [own.stops], cancel), ""
