"""Solomon / Gehring-Homberger-like VRPTW instances, generated from a seed.

Why: the bench's nine public instances are what the planner was tuned on; a strategy that
only wins there is over-fitted. These instances are unseen, of any size, and repeat exactly
per seed, so "ours vs bare PyVRP" can be measured on 100 and 400 customers with several
seeds (``bench/planning.py --versus``).

Shape, after Solomon (1987) and Gehring & Homberger (1999):

- ``kind`` ``"C"``: customers in clusters around ``n / 10`` centres; ``"R"``: uniform over
  the square; ``"RC"``: half of each.
- ``series`` 1: short horizon and vehicles of capacity 200 (many short routes, where vehicle
  reduction matters); 2: long horizon, capacity 1000 (few long routes).
- A square of side ``100·sqrt(n/100)`` with the depot in the middle (as the 200-customer
  instances are on 140 × 140), integer coordinates, travel time = Euclidean distance.
- Demand 1-40 (C: 10, 20, 30 or 40); service 10 (C: 90).
- Time windows on 75 % of the customers (the rest only the horizon): a centre drawn where a
  vehicle can serve the customer alone and return in time, a width of 3-13 % of the horizon
  (series 2: 8-25 %). Every customer is therefore feasible on its own route.
- Vehicles: the routes of a simple greedy construction (nearest feasible next customer) but
  at least ``n / 4``, so a feasible solution with that many vehicles is known to exist
  (:func:`greedy_routes`).
"""

from __future__ import annotations

import math
import random
from typing import Literal

import numpy as np

from dispatcher.planning.solomon import SolomonInstance

Kind = Literal["C", "R", "RC"]
KINDS: tuple[Kind, ...] = ("C", "R", "RC")
HORIZON = {("C", 1): 1236.0, ("R", 1): 230.0, ("RC", 1): 240.0}
HORIZON |= {("C", 2): 3390.0, ("R", 2): 1000.0, ("RC", 2): 960.0}
"""Solomon's horizons at 100 customers; scaled by ``(side / 100) ** 1.5`` for larger ones."""
WINDOWED = 0.75


def generate(n: int, kind: Kind, series: int, seed: int) -> SolomonInstance:
    """A VRPTW instance of ``n`` customers; the same arguments give the same instance."""
    if n < 1 or kind not in KINDS or series not in (1, 2):
        raise ValueError(f"bad instance spec: n={n} kind={kind!r} series={series}")
    rng = random.Random(f"{n}-{kind}-{series}-{seed}")
    side = round(100 * math.sqrt(n / 100))
    depot = (side / 2, side / 2)
    pts = _points(rng, n, kind, side)
    xs = np.array([depot[0], *(p[0] for p in pts)], dtype=np.float64)
    ys = np.array([depot[1], *(p[1] for p in pts)], dtype=np.float64)
    clustered = [kind == "C" or (kind == "RC" and i < n // 2) for i in range(n)]
    service = np.array([0.0] + [90.0 if kind == "C" else 10.0] * n)
    demand = np.array(
        [0.0]
        + [float(rng.choice((10, 20, 30, 40)) if c else rng.randint(1, 40)) for c in clustered]
    )
    horizon = round(HORIZON[(kind, series)] * (side / 100) ** 1.5)
    d0 = np.hypot(xs - depot[0], ys - depot[1])
    ready = np.zeros(n + 1)
    due = np.zeros(n + 1)
    due[0] = horizon
    lo_w, hi_w = (0.03, 0.13) if series == 1 else (0.08, 0.25)
    for i in range(1, n + 1):
        latest = math.floor(horizon - d0[i] - service[i])  # serve alone and come back in time
        earliest = math.ceil(d0[i])
        if latest < earliest:
            raise ValueError(f"horizon {horizon} too short for customer {i}")
        if rng.random() >= WINDOWED:
            ready[i], due[i] = 0.0, float(latest)
            continue
        centre = rng.uniform(earliest, latest)
        half = rng.uniform(lo_w, hi_w) * horizon / 2
        ready[i] = float(max(0, math.floor(centre - half)))
        due[i] = float(min(latest, max(earliest, math.ceil(centre + half))))
        ready[i] = min(ready[i], due[i])
    capacity = 200 if series == 1 else 1000
    name = f"gen-{kind}{series}-{n}-s{seed}"
    inst = SolomonInstance(name, n, capacity, xs, ys, demand, ready, due, service)
    vehicles = max(len(greedy_routes(inst)), math.ceil(n / 4))
    return SolomonInstance(name, vehicles, capacity, xs, ys, demand, ready, due, service)


def _points(rng: random.Random, n: int, kind: Kind, side: int) -> list[tuple[float, float]]:
    clustered = n if kind == "C" else (n // 2 if kind == "RC" else 0)
    centres = [
        (rng.uniform(0.1 * side, 0.9 * side), rng.uniform(0.1 * side, 0.9 * side))
        for _ in range(max(2, n // 10))
    ]
    pts = []
    for i in range(n):
        if i < clustered:
            cx, cy = rng.choice(centres)
            x, y = rng.gauss(cx, 0.04 * side), rng.gauss(cy, 0.04 * side)
        else:
            x, y = rng.uniform(0, side), rng.uniform(0, side)
        pts.append((float(min(side, max(0, round(x)))), float(min(side, max(0, round(y))))))
    return pts


def greedy_routes(inst: SolomonInstance) -> list[list[int]]:
    """Routes by "nearest customer that can still be served, then home"; always feasible
    (every customer fits a route of its own by construction of the windows)."""
    d = inst.distance_matrix()
    left = set(range(1, inst.customers + 1))
    routes: list[list[int]] = []
    while left:
        route: list[int] = []
        here, t, load = 0, 0.0, 0.0
        while True:
            best, best_key = None, math.inf
            for c in left:
                arrive = max(t + d[here, c], inst.ready[c])
                if arrive > inst.due[c] or load + inst.demand[c] > inst.capacity:
                    continue
                if arrive + inst.service[c] + d[c, 0] > inst.due[0]:
                    continue
                key = arrive - t  # travel plus waiting: the soonest next service
                if key < best_key:
                    best, best_key = c, key
            if best is None:
                break
            t = max(t + d[here, best], inst.ready[best]) + inst.service[best]
            load += inst.demand[best]
            here = best
            route.append(best)
            left.discard(best)
        if not route:  # cannot happen for generated instances; guard against a loop
            raise ValueError(f"{inst.name}: a customer cannot be served at all")
        routes.append(route)
    return routes


def to_solomon_text(inst: SolomonInstance) -> str:
    """The instance in Solomon's text format (``dispatcher solve`` reads it)."""
    lines = [inst.name, "", "VEHICLE", "NUMBER     CAPACITY", f"  {inst.vehicles}  {inst.capacity}"]
    lines += ["", "CUSTOMER", "CUST NO.  XCOORD.  YCOORD.  DEMAND  READY TIME  DUE DATE  SERVICE"]
    lines.append("")
    for i in range(inst.customers + 1):
        row = (i, inst.x[i], inst.y[i], inst.demand[i], inst.ready[i], inst.due[i], inst.service[i])
        lines.append("  ".join(f"{v:g}" for v in row))
    return "\n".join(lines) + "\n"


def suite(sizes: tuple[int, ...] = (100, 400), seeds: int = 3) -> list[SolomonInstance]:
    """The bench's generated set: per size, seed ``k`` (1..``seeds``) of kind C, R, RC in
    turn, series 1 (the tight one: short routes, vehicle reduction at stake); seeds beyond
    three alternate to series 2."""
    out = []
    for n in sizes:
        for k in range(1, seeds + 1):
            series = 1 if k <= 3 or k % 2 == 0 else 2
            out.append(generate(n, KINDS[(k - 1) % 3], series, k))
    return out
