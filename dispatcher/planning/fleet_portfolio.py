"""The fleet planner's portfolio: vehicle reduction and a plain PyVRP search side by side.

Why: the fleet planner (:func:`dispatcher.planning.vrptw._solve_pyvrp`) saves vehicles by
spending part of its limit on vehicle-reduction searches, and a PyVRP search cannot be
resumed with its state (penalties, acceptance history), only restarted from a solution. So
where the reduction saves nothing, or where bare PyVRP reaches the same vehicle count by
itself, the time spent at the phase boundaries is distance bare PyVRP still has: single runs
were up to 1-2 % longer at equal vehicles (gen-R1-400-s2 at 30 s, gen-C1-100-s1 at 5 s;
docs/planning.md). Tuning the phases moved which cell was behind, not whether one was.

The portfolio removes the trade-off where a second core is available: two arms run at once
for the whole limit. The *plain arm* is one PyVRP search of the whole fleet (the same model,
scale, fixed vehicle cost and seed as bare PyVRP; the same data as the planner's first
phase); the *reduction arm* is the planner as before (first phase, reduction, final phase),
with another seed (:data:`~dispatcher.planning.vrptw.ARM_SEED_SHIFT`) so the two arms are
two different tries. The winner (:func:`choose`) has the fewest vehicles, then the shortest
distance, among the feasible answers (each checked with :meth:`SolomonInstance.check`). At
equal vehicles the result is then never longer than a plain run (up to run-to-run noise),
and the reduction arm keeps the vehicles it saves.

The reduction arm runs in a forked child at :data:`REDUCTION_NICE`, the plain arm in the
calling process (which reports progress and owns the cancel): on a busy machine the plain
arm then gets about what bare PyVRP alone would get. Why ``fork``: the child inherits the
model without pickling and starts in milliseconds (a ``spawn`` child would import PyVRP and
numpy for ~0.5 s of the limit). The child stops :data:`MARGIN_S` before the limit; the
parent collects it at the limit plus at most :data:`GRACE_S` and kills it if late, so a
slow, failed or killed child costs only its own answer. No second core
(``sched_getaffinity``), no ``fork``, a daemonic process (which may not start children), a
child that cannot be started, or ``portfolio=False`` (``dispatcher solve`` reads
``[planning] portfolio = false``): the reduction arm alone in this process, as before.

A second core is not free on a busy machine: both arms share what the scheduler gives this
program. ``bench/planning.py --versus`` runs bare PyVRP alone, never beside ours.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dispatcher.clock import system_monotonic
from dispatcher.planning.portfolio import _die_with_parent
from dispatcher.planning.routing import CancelToken
from dispatcher.planning.solomon import SolomonInstance

MARGIN_S = 0.05
"""The forked arm stops this much before the limit (its answer has to cross a pipe)."""
GRACE_S = 0.2
"""How long after the limit the parent waits for the forked arm before killing it."""
REDUCTION_NICE = 19
"""Niceness added to the reduction arm's process, so that on a busy machine the plain arm,
which is what bare PyVRP would do, keeps about bare PyVRP's share of the CPU; on an idle
machine each arm has a core and the niceness changes nothing. Why so much: with the
kernel's autogroups (Linux desktops, this machine) the parent and the child share one
session's part of a busy machine, and a child at +5 still took 30 % of it (gen-R1-400-s2 at
30 s under load 4-5: plain arm 13.57 s of CPU, child 5.74 s, bare PyVRP alone 19.88 s; at
+19: 18.14 s, 3.19 s and 23.39 s). The price: under load the reduction arm gets little
CPU and saves fewer vehicles than it would alone."""
REDUCTION = "reduction"
PLAIN = "plain"


def cores() -> int:
    """Cores this process may run on (its affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_run_beside() -> bool:
    """A second process can run beside this one: ``fork``, two cores, not a daemon."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and cores() >= 2
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """One arm's routes (customer numbers, non-empty routes only) or ``None``."""

    engine: str
    routes: list[list[int]] | None


def choose(inst: SolomonInstance, answers: list[Answer]) -> Answer | None:
    """Fewest vehicles, then shortest distance, among the feasible answers; on a tie the
    earlier answer (the reduction arm comes first). ``None`` when none is feasible."""
    best: Answer | None = None
    best_key = (0, 0.0)
    for a in answers:
        if a.routes is None:
            continue
        used = [r for r in a.routes if r]
        if not used or inst.check(used):
            continue
        key = (len(used), inst.route_distance(used))
        if best is None or key < best_key:
            best, best_key = Answer(a.engine, used), key
    return best


@dataclass
class Beside:
    """An arm running in a forked child: call :meth:`collect` once (it always ends it)."""

    child: Any
    receiver: Connection
    stop: Any
    deadline: float
    status: str = ""
    """After :meth:`collect`: ``"ok"``, ``"timeout"`` (nothing by the deadline + grace) or
    ``"failed"`` (the arm raised or the child died)."""

    def collect(self, cancel: CancelToken | None = None) -> Any:
        """The child's return value by the deadline + grace; if none came, the last value
        it reported on its way (``None`` if none).

        Cancelled: the child is told to stop and gets only the grace.
        """
        deadline = self.deadline
        if cancel is not None and cancel.is_set():
            self.stop.set()
            deadline = system_monotonic()
        last = None
        try:
            while True:
                # never past deadline + grace, even when the caller itself ran late: what
                # the child sent by then is still read
                if not self.receiver.poll(max(0.0, deadline + GRACE_S - system_monotonic())):
                    self.status = "timeout"
                    return last
                try:
                    kind, value = self.receiver.recv()
                except (EOFError, OSError):
                    kind, value = "error", None
                if kind == "partial":
                    last = value
                    continue
                self.status = "ok" if kind == "ok" else "failed"
                return value if kind == "ok" else last
        finally:
            self.receiver.close()
            self.stop.set()
            self.child.join(timeout=0.05)
            if self.child.is_alive():
                self.child.kill()
                self.child.join(timeout=1.0)


Report = Callable[[object], None]


def _child(fn: Callable[[Any, Report], object], stop: Any, conn: Connection, nice: int) -> None:
    """Body of the forked arm: ``fn(stop, report)``'s value sent as ``("ok", value)``; what
    it passes to ``report`` on its way is sent as ``("partial", value)``."""
    _die_with_parent()
    if nice:
        with contextlib.suppress(OSError):  # not allowed: the parent's priority, then
            os.nice(nice)

    def report(value: object) -> None:
        conn.send(("partial", value))

    try:
        conn.send(("ok", fn(stop, report)))
    except Exception as exc:  # reported to the parent, which keeps its own answer
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def run_beside(
    fn: Callable[[Any, Report], object], deadline: float, nice: int = 0
) -> Beside | None:
    """Fork a child that runs ``fn(stop, report)`` and sends its picklable return value;
    ``stop`` is a cancel token the parent sets when it collects, ``report(value)`` sends a
    value to fall back on should the child not finish in time (a search that overruns its
    deadline on a busy machine). ``fn`` should return before ``deadline``. ``None`` when no
    process can be started (the caller runs that arm itself)."""
    if deadline - system_monotonic() <= MARGIN_S:
        return None
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(fn, stop, sender, nice), daemon=True)
    try:
        child.start()
    except OSError:  # no process to spare (limits, memory)
        receiver.close()
        sender.close()
        return None
    sender.close()
    return Beside(child, receiver, stop, deadline)
