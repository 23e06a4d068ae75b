"""Run the optimizer in a child process so the GUI stays responsive.

OR-Tools keeps the GIL for the whole search (measured: a Python thread gets ~1 time slice in
a 2-s solve), so a solve in a QThread would freeze the window. The child process owns the
solver; this side only waits on a pipe (which releases the GIL), forwards progress, and turns
the caller's cancel event into a cross-process one that the child's solution callback checks.
Call :func:`optimize_in_subprocess` from a worker thread.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from dispatcher.clock import system_monotonic
from dispatcher.errors import DispatcherError
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.planning.optimize import OptimizationResult, OptimizeOptions, optimize
from dispatcher.planning.routing import CancelToken, ProgressCallback

_PROGRESS_EVERY_S = 0.05


def _child(
    plan: Plan, pm: PlanMatrix, options: OptimizeOptions, stop: Any, conn: Connection
) -> None:
    last = [0.0]

    def progress(best: float, elapsed: float) -> None:
        now = system_monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S:
            last[0] = now
            conn.send(("progress", (best, elapsed)))

    try:
        result = optimize(plan, pm, options, stop, progress)
    except DispatcherError as exc:
        conn.send(("error", exc))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


def optimize_in_subprocess(
    plan: Plan,
    pm: PlanMatrix,
    options: OptimizeOptions | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> OptimizationResult:
    """:func:`~dispatcher.planning.optimize.optimize` in a spawned process (same result).

    Costs ~0.5 s of process start-up; worth it for fleet runs, optional for a 0.2-s
    resequencing. Errors raised by the optimizer are re-raised here.
    """
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    receiver, sender = ctx.Pipe(duplex=False)
    # Not a daemon: a daemonic process may not start children, and the resequencing
    # portfolio forks its OR-Tools solver (dispatcher.planning.portfolio). The ``finally``
    # below ends it either way.
    proc = ctx.Process(
        target=_child, args=(plan, pm, options or OptimizeOptions(), stop, sender), daemon=False
    )
    proc.start()
    sender.close()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                stop.set()
            if receiver.poll(0.05):
                try:
                    kind, payload = receiver.recv()
                except EOFError as exc:
                    raise DispatcherError("the optimizer process stopped unexpectedly") from exc
                if kind == "progress" and progress is not None:
                    progress(*payload)
                elif kind == "error":
                    raise payload
                elif kind == "result":
                    result: OptimizationResult = payload
                    return result
            elif not proc.is_alive():
                raise DispatcherError("the optimizer process stopped unexpectedly")
    finally:
        receiver.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
