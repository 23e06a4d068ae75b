"""Planning benchmark: Solomon fleet quality vs PyVRP, route resequencing, evaluation speed.

Usage::

    python bench/planning.py                 # full: 9 instances at 5 s and 30 s (~13 min)
    python bench/planning.py --quick         # C101, R101, RC101, RC201 at 5 s
    python bench/planning.py --time-limits 5 10 --instances C101 R101
    python bench/planning.py --versus        # ours vs bare PyVRP, bench + generated, 5/30 s
    python bench/planning.py --versus --quick  # the same on the quick set (~13 min)
    python bench/planning.py --versus --sizes 100 --seeds 3 --time-limits 5 --log

Figures only; the baseline (PyVRP, the peer solver) runs in the same script on the same
instances with the same time limit, and resequencing is compared with our own 10-s result.
Gaps are against the best-known solutions (vehicles first, then distance) in ``bks.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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
from dispatcher.planning import fleet_portfolio  # noqa: E402
from dispatcher.planning.evaluate import evaluate_route  # noqa: E402
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle  # noqa: E402
from dispatcher.planning.optimize import (  # noqa: E402
    OptimizationResult,
    OptimizeOptions,
    optimize,
)
from dispatcher.planning.solomon import SolomonInstance, read_solomon  # noqa: E402
from dispatcher.planning.vrptw import DEFAULT_ENGINE, ENGINES, solve_vrptw  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import vrptw_gen  # noqa: E402

DATA = Path("/work/shared/data/vrptw")
ALL = ["C101", "R101", "RC101", "C201", "R201", "RC201", "c1_2_1", "r1_2_1", "rc1_2_1"]
QUICK = ["C101", "R101", "RC101", "RC201"]


def pyvrp_solve(inst: SolomonInstance, seconds: float, seed: int = 1) -> list[list[int]] | None:
    """Bare PyVRP on the same instance: distances x1000 rounded, times rounded up, a fixed
    vehicle cost like ours (2 x the longest depot round trip), one ``solve`` call."""
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
    from pyvrp.stop import MaxRuntime

    s = 1000
    d = inst.distance_matrix()
    n = inst.customers
    horizon = int(inst.due[0] * s)
    data = ProblemData(
        [Location(float(x), float(y)) for x, y in zip(inst.x, inst.y, strict=True)],
        [
            Client(
                c,
                delivery=[int(inst.demand[c])],
                service_duration=int(inst.service[c] * s),
                tw_early=int(inst.ready[c] * s),
                tw_late=int(inst.due[c] * s),
            )
            for c in range(1, n + 1)
        ],
        [Depot(0, tw_early=0, tw_late=horizon)],
        [
            VehicleType(
                inst.vehicles,
                capacity=[inst.capacity],
                fixed_cost=int(2 * d[0].max() * 2 * s),
                tw_late=horizon,
            )
        ],
        [np.rint(d * s).astype(np.int64)],  # type: ignore[list-item]  # pyvrp's stub
        [np.ceil(d * s - 1e-6).astype(np.int64)],  # type: ignore[list-item]
    )
    res = solve(data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False)
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


def versus_table(
    instances: list[SolomonInstance], limits: list[float], show_log: bool = False
) -> list[dict[str, float | int | str]]:
    """Ours (``solve_vrptw``, default engine) against bare PyVRP, instance by instance.

    The two run back to back on each instance and limit, in alternating order, so that the
    load of a shared machine hits both alike. Per row: vehicles, distance, wall time minus
    the limit (overrun), and the gap of our distance to PyVRP's when both use the same number
    of vehicles (the quality target: at most +0.5 %).
    """
    print("\n## Fleet: ours vs bare PyVRP, same run, interleaved (gap only at equal vehicles)")
    started = time.perf_counter()
    print(f"load average at the start: {_load()}; {fleet_portfolio.cores()} cores")
    print(
        f"{'instance':<16}{'n':>4}{'limit':>6} | {'ours v':>6}{'dist':>10}{'over s':>7} "
        f"{'arm':<9} | {'PyVRP v':>7}{'dist':>10}{'over s':>7} | {'dv':>3} {'gap %':>6}"
    )
    rows: list[dict[str, float | int | str]] = []
    k = 0
    for inst in instances:
        for t in limits:
            order = ("ours", "pyvrp") if k % 2 == 0 else ("pyvrp", "ours")
            k += 1
            got: dict[str, tuple[int, float, float]] = {}
            log: tuple[str, ...] = ()
            arm = ""
            for who in order:
                t0 = time.perf_counter()
                if who == "ours":
                    res = solve_vrptw(inst, t)
                    routes: list[list[int]] | None = res.routes
                    log, arm = res.log, res.engine
                else:
                    routes = pyvrp_solve(inst, t)
                took = time.perf_counter() - t0
                ok = routes is not None and not inst.check([r for r in routes if r])
                used = [r for r in routes or [] if r]
                dist = inst.route_distance(used) if ok else float("nan")
                got[who] = (len(used) if ok else -1, dist, took - t)
            (ov, od, oo), (pv, pd, po) = got["ours"], got["pyvrp"]
            gap = 100 * (od / pd - 1) if ov == pv > 0 else float("nan")
            rows.append(
                {
                    "instance": inst.name,
                    "n": inst.customers,
                    "limit": t,
                    "ours_v": ov,
                    "ours_d": od,
                    "ours_over": oo,
                    "arm": arm,
                    "pyvrp_v": pv,
                    "pyvrp_d": pd,
                    "pyvrp_over": po,
                    "gap": gap,
                }
            )
            mark = " <-- over +0.5 %" if gap > 0.5 else ""
            print(
                f"{inst.name:<16}{inst.customers:>4}{t:>6g} | {ov:>6}{od:>10.2f}{oo:>+7.2f} "
                f"{arm:<9} | "
                f"{pv:>7}{pd:>10.2f}{po:>+7.2f} | {ov - pv:>+3} "
                + (f"{gap:>+6.2f}" if not np.isnan(gap) else f"{'':>6}")
                + mark,
                flush=True,
            )
            if show_log:
                print("    " + "; ".join(log), flush=True)
    _versus_summary(rows, limits)
    took = (time.perf_counter() - started) / 60
    print(f"load average at the end: {_load()}; the table took {took:.1f} min")
    return rows


def _load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine may be shared)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _versus_summary(rows: list[dict[str, float | int | str]], limits: list[float]) -> None:
    for t in limits:
        at = [r for r in rows if r["limit"] == t]
        gaps = [float(r["gap"]) for r in at if not np.isnan(float(r["gap"]))]
        fewer = sum(1 for r in at if 0 < int(r["ours_v"]) < int(r["pyvrp_v"]))
        more = sum(1 for r in at if int(r["ours_v"]) > int(r["pyvrp_v"]) > 0)
        worst = max(gaps, default=float("nan"))
        print(
            f"at {t:g} s: {len(at)} instances; equal vehicles on {len(gaps)} "
            f"(worst gap {worst:+.2f} %, over +0.5 % on {sum(g > 0.5 for g in gaps)}); "
            f"ours fewer vehicles on {fewer}, more on {more}; vehicles ours "
            f"{sum(int(r['ours_v']) for r in at)} vs PyVRP {sum(int(r['pyvrp_v']) for r in at)}; "
            f"worst overrun ours {max(float(r['ours_over']) for r in at):+.2f} s, "
            f"PyVRP {max(float(r['pyvrp_over']) for r in at):+.2f} s; arms kept: "
            + ", ".join(
                f"{a} {sum(1 for r in at if r['arm'] == a)}"
                for a in sorted({str(r["arm"]) for r in at})
            )
        )


def solomon_plan(inst: SolomonInstance) -> Plan:
    """The instance as a day of the console: every customer unassigned, identical vehicles
    at the depot, time = distance (``EuclideanProvider(speed=1)``)."""
    depot = (float(inst.x[0]), float(inst.y[0]))
    stops = [
        PlanStop(
            f"c{c}",
            (float(inst.x[c]), float(inst.y[c])),
            float(inst.ready[c]),
            float(inst.due[c]),
            float(inst.service[c]),
            int(inst.demand[c]),
        )
        for c in range(1, inst.customers + 1)
    ]
    vehicles = [
        PlanVehicle(f"v{k}", inst.capacity, 0.0, float(inst.due[0]), depot, depot)
        for k in range(inst.vehicles)
    ]
    return Plan.build(vehicles, stops, {v.id: [] for v in vehicles}, [s.id for s in stops])


def optimize_overrun(instances: list[SolomonInstance], limits: list[float]) -> None:
    """Wall time of ``optimize`` (the console's "Optimize fleet", in-process) minus its limit:
    at most 0.5 s is the target (it may end sooner when the search converged)."""
    print("\n## Optimize fleet (optimize(), whole fleet): wall time vs limit")
    print(f"{'instance':<16}{'limit':>6} | engine  vehicles  distance   wall s  over s  converged")
    worst = float("-inf")
    for inst in instances:
        plan = solomon_plan(inst)
        pm = PlanMatrix.build(plan, EuclideanProvider(speed=1.0))
        for t in limits:
            t0 = time.perf_counter()
            r = optimize(plan, pm, OptimizeOptions(time_limit_s=t, scale=1000.0))
            took = time.perf_counter() - t0
            worst = max(worst, took - t)
            used = sum(1 for v in r.routes.values() if v)
            print(
                f"{inst.name:<16}{t:>6g} | {r.engine:<7}{used:>9}{r.after.distance:>10.2f}"
                f"{took:>9.2f}{took - t:>+8.2f}  {r.converged}",
                flush=True,
            )
    if instances:
        print(f"worst overrun of optimize(): {worst:+.2f} s")
    else:
        print("optimize(): no generated instance in this set (--seeds 0), none run")


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
    ap.add_argument(
        "--quick",
        action="store_true",
        help="4 instances at 5 s, short reseq; with --versus: 4 + 6 generated at 5 and 30 s",
    )
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
    ap.add_argument(
        "--versus",
        action="store_true",
        help="only the ours-vs-PyVRP comparison (bench and generated instances)",
    )
    ap.add_argument("--sizes", type=int, nargs="+", help="generated sizes (default 100 400)")
    ap.add_argument("--seeds", type=int, default=3, help="generated seeds per size")
    ap.add_argument("--log", action="store_true", help="print our solver's phase log")
    ap.add_argument("--skip-reseq", action="store_true")
    args = ap.parse_args()
    limits = args.time_limits or ([5.0] if args.quick else [5.0, 30.0])
    names = args.instances or (QUICK if args.quick else ALL)
    if args.versus:
        # --quick: the bench's quick instances and the generated C/R/RC of 100 and 400
        # customers (seeds 1-3) at 5 s and 30 s; ~13 minutes on an idle 2-core machine
        limits = args.time_limits or [5.0, 30.0]
        sizes = tuple(args.sizes or (100, 400))
        bench_set = [read_solomon(DATA / f"{n}.txt") for n in names if n in ALL]
        gen_set = [
            g
            for g in vrptw_gen.suite(sizes, args.seeds)
            if not args.instances or g.name in args.instances
        ]
        versus_table(bench_set + gen_set, limits, args.log)
        overrun_limits = limits[:1] if args.quick else limits
        optimize_overrun([g for g in gen_set if g.name.endswith("-s2")], overrun_limits)
        return
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
