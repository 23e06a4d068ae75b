"""Planning benchmark: Solomon fleet quality vs PyVRP, route resequencing, evaluation speed.

Usage::

    python bench/planning.py                 # full: 9 instances at 5 s and 30 s (~13 min)
    python bench/planning.py --quick         # C101, R101, RC101, RC201 at 5 s
    python bench/planning.py --time-limits 5 10 --instances C101 R101

Figures only; the baseline (PyVRP, the peer solver) runs in the same script on the same
instances with the same time limit, and resequencing is compared with our own 10-s result.
Gaps are against the best-known solutions (vehicles first, then distance) in ``bks.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatcher.eta import EuclideanProvider  # noqa: E402
from dispatcher.model.core import StopKind  # noqa: E402
from dispatcher.planning.evaluate import evaluate_route  # noqa: E402
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle  # noqa: E402
from dispatcher.planning.optimize import (  # noqa: E402
    OptimizationResult,
    OptimizeOptions,
    optimize,
)
from dispatcher.planning.solomon import SolomonInstance, read_solomon  # noqa: E402
from dispatcher.planning.vrptw import DEFAULT_ENGINE, ENGINES, solve_vrptw  # noqa: E402

DATA = Path("/work/shared/data/vrptw")
ALL = ["C101", "R101", "RC101", "C201", "R201", "RC201", "c1_2_1", "r1_2_1", "rc1_2_1"]
QUICK = ["C101", "R101", "RC101", "RC201"]


def pyvrp_solve(inst: SolomonInstance, seconds: float) -> list[list[int]] | None:
    """PyVRP on the same instance, distances x1000 rounded, fixed vehicle cost like ours."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    s = 1000
    m = Model()
    locs = [m.add_location(float(x), float(y)) for x, y in zip(inst.x, inst.y, strict=True)]
    depot = m.add_depot(locs[0], tw_early=0, tw_late=int(inst.due[0] * s))
    d = inst.distance_matrix()
    m.add_vehicle_type(
        inst.vehicles,
        capacity=inst.capacity,
        start_depot=depot,
        end_depot=depot,
        fixed_cost=int(2 * d[0].max() * 2 * s),
        tw_late=int(inst.due[0] * s),
    )
    for c in range(1, inst.customers + 1):
        m.add_client(
            locs[c],
            delivery=int(inst.demand[c]),
            service_duration=int(inst.service[c] * s),
            tw_early=int(inst.ready[c] * s),
            tw_late=int(inst.due[c] * s),
        )
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            dij = int(np.ceil(d[i, j] * s - 1e-6))
            m.add_edge(a, b, distance=round(d[i, j] * s), duration=dij)
    res = m.solve(MaxRuntime(seconds), seed=1, display=False)
    if not res.best.is_feasible():
        return None
    # Activities of a route: depots and clients; client idx counts clients from 0.
    return [[int(a.idx) + 1 for a in r if a.is_client()] for r in res.best.routes()]


def fleet_table(
    names: list[str],
    limits: list[float],
    with_pyvrp: bool,
    engines: tuple[str, ...] = (DEFAULT_ENGINE,),
) -> None:
    """Our solver (per engine: ``pyvrp`` = ours with PyVRP + vehicle reduction, ``ortools`` =
    the tuned OR-Tools path) and plain PyVRP as the peer, same instances and limits."""
    bks = json.loads((DATA / "bks.json").read_text())
    print("\n## Fleet (Solomon / Gehring-Homberger), gap vs BKS distance")
    print("ours = solve_vrptw(engine=pyvrp); ortools = solve_vrptw(engine=ortools); PyVRP = peer")
    ours = [("ours" if e == "pyvrp" else e, e) for e in engines]
    head = "instance  BKS(v/dist)     " + "".join(
        "".join(f"| {who:<7}{t:>3g}s v gap% " for who, _ in ours)
        + (f"| PyVRP {t:>3g}s v  gap% " if with_pyvrp else "")
        for t in limits
    )
    print(head)
    gaps: dict[str, list[float]] = {}
    vok: dict[str, list[bool]] = {}
    used: dict[str, list[int]] = {}
    for name in names:
        inst = read_solomon(DATA / f"{name}.txt")
        b = bks[name]
        row = f"{name:<9} {b['vehicles']:>3} {b['distance']:>9.2f}  "
        for t in limits:
            runs = [
                (who, lambda t=t, inst=inst, e=e: solve_vrptw(inst, t, engine=e).routes)
                for who, e in ours
            ]
            if with_pyvrp:
                runs.append(("pyvrp", lambda t=t, inst=inst: pyvrp_solve(inst, t)))
            for who, run in runs:
                routes = run()
                key = f"{who}@{t:g}"
                if not routes or inst.check([r for r in routes if r]):
                    row += "|  infeasible        "
                    gaps.setdefault(key, []).append(float("nan"))
                    used.setdefault(key, []).append(-1)
                    continue
                routes = [r for r in routes if r]
                gap = 100 * (inst.route_distance(routes) / b["distance"] - 1)
                gaps.setdefault(key, []).append(gap)
                vok.setdefault(key, []).append(len(routes) <= b["vehicles"])
                used.setdefault(key, []).append(len(routes))
                row += f"| {len(routes):>10} {gap:>6.2f}  "
        print(row, flush=True)
    for key, g in gaps.items():
        print(
            f"mean gap {key}: {np.nanmean(g):.2f}%  BKS vehicles on "
            f"{sum(vok.get(key, []))}/{len(g)}  infeasible {int(np.isnan(g).sum())}"
        )
    for t, (who, _) in itertools.product(limits if with_pyvrp else [], ours):
        mine, peer = f"{who}@{t:g}", f"pyvrp@{t:g}"
        same = [
            i for i, (a, b) in enumerate(zip(used[mine], used[peer], strict=True)) if a == b > 0
        ]
        if same:
            delta = np.mean([gaps[mine][i] - gaps[peer][i] for i in same])
            print(
                f"at {t:g}s: {who} - PyVRP = {delta:+.2f} points of gap on the {len(same)} "
                f"instances with equal vehicle counts; vehicles {who} {sum(used[mine])} "
                f"vs PyVRP {sum(used[peer])}"
            )


def single_route(n: int, seed: int, groups: bool = False) -> Plan:
    """One vehicle, ``n`` stops with 1-2 h windows around a feasible tour, 1-2 pinned stops.

    The current route is that tour disturbed by ``n/4`` random swaps (pins stay in place), so
    a feasible order with the pins exists and the start is late at several stops. With
    ``groups``: also every fifth stop a pickup and up to three order groups of three
    stops (consecutive in the feasible tour, in that order on the route), the locks that
    keep our search on its slower numpy descent.
    """
    rng = random.Random(seed)
    pts = [(rng.uniform(0, 10_000), rng.uniform(0, 10_000)) for _ in range(n)]
    order = sorted(range(n), key=lambda i: np.arctan2(pts[i][1] - 5000, pts[i][0] - 5000))
    speed, t, here = 8.0, 8 * 3600.0, (5000.0, 5000.0)
    service = 90.0 if n <= 100 else 45.0
    stops = []
    for i in order:
        t += float(np.hypot(pts[i][0] - here[0], pts[i][1] - here[1])) / speed
        w = rng.uniform(3600, 7200)
        start = max(8 * 3600.0, t - rng.uniform(0, w))
        stops.append(PlanStop(f"s{i}", pts[i], start, start + w, service, 1))
        t += service
        here = pts[i]
    ids = [s.id for s in stops]
    pins = set(rng.sample(range(n), rng.randint(1, 2)))
    free = [k for k in range(n) if k not in pins]
    current = ids[:]
    for _ in range(n // 4):  # the dispatcher's route: the good tour, disturbed by swaps
        a, b = rng.sample(free, 2)
        current[a], current[b] = current[b], current[a]
    v = PlanVehicle(
        "v",
        n,
        8 * 3600.0,
        8 * 3600.0 + 2 * (t - 8 * 3600.0) + 3600,
        (5000.0, 5000.0),
        (5000.0, 5000.0),
    )
    chosen: list[list[str]] = []
    if groups:  # three stops in a row of the good tour, put in that order on the route
        heads = [k for k in free if k + 1 in free and k + 2 in free]
        for k in sorted(rng.sample(heads, 3)):
            members = ids[k : k + 3]
            if any(m in g for g in chosen for m in members):
                continue
            where = sorted(current.index(m) for m in members)
            for pos, m in zip(where, members, strict=True):
                current[pos] = m
            chosen.append(members)
    plan = Plan.build([v], stops, {"v": current})
    for k in pins:
        plan.stops[current[k]] = replace(plan.stops[current[k]], pinned=True)
    for g, members in enumerate(chosen):
        for sid in members:
            plan.stops[sid] = replace(plan.stops[sid], order_group=f"g{g}")
    if groups:
        for k, sid in enumerate(current):
            if k % 5 == 4:
                plan.stops[sid] = replace(plan.stops[sid], kind=StopKind.PICKUP)
    return plan


def reseq_table(sizes: list[int], steps: list[float], best_limit: float, seeds: int = 3) -> None:
    """Our resequencing (local search and OR-Tools side by side) and OR-Tools alone (``ort``).

    Each size is run on ``seeds`` routes (seed ``n``, ``n + 1``, …). Both rows of a route are
    compared with the same reference: the better of the two ``best_limit`` runs (their
    distances in km in the last column, ours first).
    """
    import dispatcher.planning.optimize as optimize_module

    print(f"\n## Resequencing one route (windows, 1-2 pins); gap vs best {best_limit:g}-s run")
    print(
        "stops/seed     | "
        + " | ".join(f"{s:>5g}s gap% (late)" for s in steps)
        + f" | eval median µs | {best_limit:g}-s km (ort)"
    )
    wins: dict[str, int] = {}
    statuses: dict[str, int] = {}
    overruns: list[float] = []
    for n, seed in ((n, n + k) for n in sizes for k in range(seeds)):
        plan = single_route(n, seed)
        pm = PlanMatrix.build(plan, EuclideanProvider(speed=8.0))
        opts = OptimizeOptions(vehicle_ids=("v",), scale=10.0)
        own = optimize_module.portfolio
        tens = {}
        for label in ("", " ort"):
            if label:  # the previous path: OR-Tools alone from the window-end order
                optimize_module.portfolio = lambda *a, **k: None
            try:
                tens[label] = optimize(plan, pm, replace(opts, time_limit_s=best_limit))
            finally:
                optimize_module.portfolio = own
        best = tens[""]
        ref = min(r.after.distance for r in tens.values())
        for label in ("", " ort"):
            if label:
                optimize_module.portfolio = lambda *a, **k: None
            try:
                runs = [_reseq_run(plan, pm, replace(opts, time_limit_s=s)) for s in steps]
            finally:
                optimize_module.portfolio = own
            cells = [_reseq_cell(r, took, ref) for r, took in runs]
            if not label:
                for (r, took), s in zip(runs, steps, strict=True):
                    wins[r.engine] = wins.get(r.engine, 0) + 1
                    statuses[r.ortools_status] = statuses.get(r.ortools_status, 0) + 1
                    overruns.append(took - s)
            if not label:
                drag = partial(evaluate_route, pm, plan.vehicles["v"], best.routes["v"])
                km = " ".join(f"{r.after.distance / 1000:.2f}" for r in tens.values())
                cells += [f"{_median_us(drag, 2000):14.1f}", km]
            print(f"{n:>5}/{seed:<4}{label:<4} | " + " | ".join(cells), flush=True)
    for n, seed in ((n, n + k) for n in sizes for k in range(seeds)):
        plan = single_route(n, seed, groups=True)
        pm = PlanMatrix.build(plan, EuclideanProvider(speed=8.0))
        opts = OptimizeOptions(vehicle_ids=("v",), scale=10.0)
        ref = optimize(plan, pm, replace(opts, time_limit_s=best_limit)).after.distance
        runs = [_reseq_run(plan, pm, replace(opts, time_limit_s=s)) for s in steps]
        for (r, took), s in zip(runs, steps, strict=True):
            wins[r.engine] = wins.get(r.engine, 0) + 1
            statuses[r.ortools_status] = statuses.get(r.ortools_status, 0) + 1
            overruns.append(took - s)
        cells = [_reseq_cell(r, took, ref) + f" {r.engine[:3]}" for r, took in runs]
        print(f"{n:>5}/{seed:<4}grp | " + " | ".join(cells), flush=True)
    runs_n = sum(wins.values())
    print(
        f"engine wins over the {runs_n} portfolio runs (rows without 'ort'): "
        + ", ".join(f"{e} {k}" for e, k in sorted(wins.items()))
        + "; OR-Tools was "
        + ", ".join(f"{st or 'not run'} {k}" for st, k in sorted(statuses.items()))
        + f"; worst overrun of the limit {max(overruns, default=0.0) * 1000:+.0f} ms"
    )


def _reseq_run(
    plan: Plan, pm: PlanMatrix, opts: OptimizeOptions
) -> tuple[OptimizationResult, float]:
    t0 = time.perf_counter()
    r = optimize(plan, pm, opts)
    return r, time.perf_counter() - t0


def _reseq_cell(r: OptimizationResult, took: float, ref: float) -> str:
    ok = "" if r.honours_locks else " LOCKS!"
    return f"{100 * (r.after.distance / ref - 1):>6.2f} ({r.after.late_stops}) {took:4.2f}s{ok}"


def eval_table(sizes: list[int]) -> None:
    """Median time of one evaluate_route call (what a drag costs), flat vs rush-hour profile."""
    from dispatcher.eta import HaversineProvider, SpeedProfile

    print("\n## Evaluation (one route, city coordinates, 07:00 start), median of 3000 calls")
    print("stops | flat profile µs | rush-hour profile µs | loop reference µs")
    for n in sizes:
        rng = random.Random(n)
        stops = []
        for i in range(n):
            a = 7 * 3600 + i * (11 * 3600 / n)
            loc = (48.85 + rng.uniform(-0.01, 0.01), 2.35 + rng.uniform(-0.015, 0.015))
            stops.append(PlanStop(f"s{i}", loc, a, a + 3600, 60.0, 1))
        v = PlanVehicle("v", n, 7 * 3600.0, 19 * 3600.0, (48.85, 2.35), (48.85, 2.35))
        plan = Plan.build([v], stops, {"v": [s.id for s in stops]})
        cells = []
        for prof in (SpeedProfile.flat(), SpeedProfile.urban_rush_hours()):
            pm = PlanMatrix.build(plan, HaversineProvider(speed_kmh=25, profile=prof))
            cells.append(_median_us(partial(evaluate_route, pm, v, plan.routes["v"])))
        cells.append(_median_us(partial(_loop_eval, pm, v, plan), 300))
        print(f"{n:>5} | " + " | ".join(f"{c:8.1f}" for c in cells), flush=True)


def _median_us(fn: Callable[[], object], reps: int = 3000) -> float:
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6


def _loop_eval(pm: PlanMatrix, v: PlanVehicle, plan: Plan) -> float:
    """The straightforward per-leg loop, as the baseline for the vectorized evaluator."""
    prof = pm.matrix.profile
    t, here = v.departure, pm.start_node[v.id]
    for sid in plan.routes[v.id]:
        node, st = pm.stop_node[sid], plan.stops[sid]
        t += pm.matrix.duration[here, node] * prof.factor_at_scalar(t)
        t = max(t, st.window_start) + st.service_s
        here = node
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 instances at 5 s, short reseq")
    ap.add_argument("--time-limits", type=float, nargs="+", help="fleet time limits (s)")
    ap.add_argument("--instances", nargs="+", help="instance names (default: all)")
    ap.add_argument("--no-pyvrp", action="store_true", help="skip the PyVRP baseline")
    ap.add_argument(
        "--engine",
        nargs="+",
        choices=ENGINES,
        default=[DEFAULT_ENGINE],
        help=f"our fleet engine(s) (default {DEFAULT_ENGINE}; 'ortools' = the old solver)",
    )
    ap.add_argument("--skip-fleet", action="store_true")
    ap.add_argument("--skip-reseq", action="store_true")
    args = ap.parse_args()
    limits = args.time_limits or ([5.0] if args.quick else [5.0, 30.0])
    names = args.instances or (QUICK if args.quick else ALL)
    if not args.skip_reseq:
        eval_table([50, 100, 200])
        reseq_table(
            [25, 50, 100, 200],
            [0.1, 0.2, 0.5, 1.0] if not args.quick else [0.2, 1.0],
            3.0 if args.quick else 10.0,
            1 if args.quick else 3,
        )
    if not args.skip_fleet:
        fleet_table(names, limits, not args.no_pyvrp, tuple(args.engine))


if __name__ == "__main__":
    main()
