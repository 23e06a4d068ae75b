"""ETA benchmark: does learning speeds from the position history make arrivals better?

Usage::

    python bench/eta.py                  # 5 training days + 1 test day, 20 vehicles (~20 s)
    python bench/eta.py --days 3 --vehicles 10 --seed 7
    python bench/eta.py --tiny           # 1 + 1 days, 2 vehicles (the test suite's smoke run)
    python bench/eta.py --curve          # ...and the reduction after 1, 2, ... 5 days

A synthetic fleet drives simulated days in a city whose *true* travel times come from a hidden
model the predictors never see: smooth rush-hour peaks (08:00, 17:15), a slow centre that is
even slower at rush hour, faster outskirts, a per-leg random factor (lognormal, sigma 0.12)
and a per-day one (sigma 0.04). Vehicles report a fix every 30 s, as the trackers do.

The training days' fixes are cut into legs (:func:`dispatcher.eta.learned.legs_from_track`)
and learned from (:func:`dispatcher.eta.learned.learn`). On the test day, every 10 minutes
of every vehicle's shift, both predictors forecast the arrival at each remaining stop from the
vehicle's position then, the way the evaluator does (each leg's free-flow time times the
profile's factor at its departure, then the service time):

* fixed: the console's default, :class:`HaversineProvider` with the rush-hour guess;
* learned: :class:`LearnedProvider` around the same provider.

Errors |predicted - true| are grouped by how far ahead the true arrival was (15 min: 7.5-22.5,
30 min: 22.5-45, 60 min: 45-90) and reported as MAE and 90th percentile, in minutes. Service
times are known exactly, so the errors are travel-time errors only. Deterministic per seed.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatcher.eta import HaversineProvider, TravelTimeProvider  # noqa: E402
from dispatcher.eta.learned import (  # noqa: E402
    LearnedProvider,
    LearnedSpeeds,
    Leg,
    learn,
    legs_from_track,
)

ZONE = "Europe/Helsinki"
FIRST_DAY = date(2026, 3, 2)  # a Monday; no DST change in the week
CENTRE = (60.170, 24.940)
KM_LAT = 1 / 111.2
KM_LON = 1 / (111.2 * math.cos(math.radians(CENTRE[0])))
FREE_KMH, CIRCUITY = 30.0, 1.3
FIX_S = 30.0
HORIZONS = {15: (7.5, 22.5), 30: (22.5, 45.0), 60: (45.0, 90.0)}


def true_factor(t_s: float, lat: float, lon: float) -> float:
    """The hidden traffic: travel-time multiplier at plan time ``t_s`` and a point."""
    h = (t_s % 86_400) / 3600
    rush = math.exp(-(((h - 8.0) / 1.0) ** 2)) + 0.8 * math.exp(-(((h - 17.25) / 1.2) ** 2))
    day = 0.1 if 7 <= h <= 19 else 0.0
    r = math.hypot((lat - CENTRE[0]) / KM_LAT, (lon - CENTRE[1]) / KM_LON)
    centre = math.exp(-((r / 3.5) ** 2))
    area = 0.85 + 0.7 * centre
    return (0.9 + day + 0.65 * rush) * area * (1 + 0.35 * rush * centre)


@dataclass
class Route:
    """One vehicle's day: stops in order, with true arrivals and a 30-s track."""

    stops: list[tuple[float, float]]
    service_s: list[float]
    start_pos: tuple[float, float]
    start_s: float
    arrival: list[float]
    knots_t: np.ndarray
    knots_lat: np.ndarray
    knots_lon: np.ndarray

    def position(self, t: float) -> tuple[float, float]:
        return (
            float(np.interp(t, self.knots_t, self.knots_lat)),
            float(np.interp(t, self.knots_t, self.knots_lon)),
        )


def _point(rng: random.Random, spread_km: float) -> tuple[float, float]:
    if rng.random() < 0.4:
        dy, dx = rng.gauss(0, 3), rng.gauss(0, 3)
    else:
        dy, dx = rng.uniform(-spread_km, spread_km), rng.uniform(-spread_km, spread_km)
    return CENTRE[0] + dy * KM_LAT, CENTRE[1] + dx * KM_LON


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) / KM_LAT, (a[1] - b[1]) / KM_LON)


def simulate_route(rng: random.Random, day_noise: float) -> Route:
    """Drive one vehicle's day through the hidden model."""
    depot = _point(rng, 10)
    todo = [_point(rng, 12) for _ in range(rng.randint(14, 22))]
    order, here = [], depot
    while todo:
        nxt = min(todo, key=lambda p: _km(here, p))
        todo.remove(nxt)
        order.append(nxt)
        here = nxt
    service = [rng.uniform(240, 480) for _ in order]
    t = 7 * 3600 + rng.uniform(0, 3600)
    start_s = t
    kt, klat, klon = [t], [depot[0]], [depot[1]]
    arrival = []
    here = depot
    for stop, svc in zip(order, service, strict=True):
        km = _km(here, stop)
        steps = max(1, math.ceil(km / 0.3))
        noise = day_noise * math.exp(rng.gauss(0, 0.12))
        for s in range(1, steps + 1):
            a = here[0] + (stop[0] - here[0]) * (s - 0.5) / steps
            b = here[1] + (stop[1] - here[1]) * (s - 0.5) / steps
            free = km / steps * CIRCUITY / FREE_KMH * 3600
            t += free * true_factor(t, a, b) * noise
            kt.append(t)
            klat.append(here[0] + (stop[0] - here[0]) * s / steps)
            klon.append(here[1] + (stop[1] - here[1]) * s / steps)
        arrival.append(t)
        t += svc
        kt.append(t)
        klat.append(stop[0])
        klon.append(stop[1])
        here = stop
    return Route(
        order,
        service,
        depot,
        start_s,
        arrival,
        np.asarray(kt),
        np.asarray(klat),
        np.asarray(klon),
    )


def simulate_day(seed: int, vehicles: int) -> list[Route]:
    rng = random.Random(seed)
    day_noise = math.exp(rng.gauss(0, 0.04))
    return [simulate_route(rng, day_noise) for _ in range(vehicles)]


def track_legs(routes: list[Route], day: date, tz: ZoneInfo) -> list[Leg]:
    """What the position history of a day gives the learner: one fix per 30 s."""
    origin = datetime(day.year, day.month, day.day, tzinfo=tz)
    legs: list[Leg] = []
    for r in routes:
        ts = np.arange(r.knots_t[0], r.knots_t[-1], FIX_S)
        lat = np.interp(ts, r.knots_t, r.knots_lat)
        lon = np.interp(ts, r.knots_t, r.knots_lon)
        fixes = [
            (origin + timedelta(seconds=float(t)), float(a), float(b))
            for t, a, b in zip(ts, lat, lon, strict=True)
        ]
        legs.extend(legs_from_track(fixes))
    return legs


def predict(provider: TravelTimeProvider, route: Route, now: float) -> dict[int, float]:
    """Predicted arrival (plan seconds) of each stop still ahead at ``now``."""
    k = next((i for i, a in enumerate(route.arrival) if a > now), len(route.arrival))
    if k == len(route.arrival):
        return {}
    if k > 0 and now < route.arrival[k - 1] + route.service_s[k - 1]:
        start, dep = route.stops[k - 1], route.arrival[k - 1] + route.service_s[k - 1]
    else:
        start, dep = route.position(now), now
    places = [start, *route.stops[k:]]
    tm = provider.matrix(places)
    out: dict[int, float] = {}
    for j in range(1, len(places)):
        arr = dep + float(tm.duration[j - 1, j]) * tm.profile.factor_at_scalar(dep)
        out[k + j - 1] = arr
        dep = arr + route.service_s[k + j - 1]
    return out


def errors(provider: TravelTimeProvider, routes: list[Route]) -> dict[int, list[float]]:
    """Absolute errors in minutes per horizon over the test day."""
    out: dict[int, list[float]] = {h: [] for h in HORIZONS}
    for r in routes:
        now = r.start_s + 300
        while now < r.arrival[-1]:
            for i, pred in predict(provider, r, now).items():
                lead = (r.arrival[i] - now) / 60
                for h, (lo, hi) in HORIZONS.items():
                    if lo <= lead < hi:
                        out[h].append(abs(pred - r.arrival[i]) / 60)
            now += 600
    return out


def run(
    days: int, vehicles: int, seed: int
) -> tuple[LearnedSpeeds, dict[str, dict[int, list[float]]]]:
    """Simulate ``days`` training days and one test day; errors of both predictors."""
    tz = ZoneInfo(ZONE)
    legs: list[Leg] = []
    for d in range(days):
        legs.extend(
            track_legs(simulate_day(seed * 1000 + d, vehicles), FIRST_DAY + timedelta(d), tz)
        )
    speeds = learn(legs, ZONE, speed_kmh=FREE_KMH, circuity=CIRCUITY)
    test = simulate_day(seed * 1000 + 999, vehicles)
    fixed = HaversineProvider(speed_kmh=FREE_KMH, circuity=CIRCUITY)
    return speeds, {
        "fixed": errors(fixed, test),
        "learned": errors(LearnedProvider(fixed, speeds), test),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=5, help="training days (default 5)")
    ap.add_argument("--vehicles", type=int, default=20, help="vehicles per day (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tiny", action="store_true", help="1 training day, 2 vehicles")
    ap.add_argument(
        "--curve", action="store_true", help="also the MAE reduction after 1, 2, ... --days days"
    )
    args = ap.parse_args(argv)
    days, vehicles = (1, 2) if args.tiny else (args.days, args.vehicles)
    t0 = time.perf_counter()
    speeds, errs = run(days, vehicles, args.seed)
    print(
        f"ETA bench: {days} training day(s), {vehicles} vehicles, seed {args.seed}: "
        f"{speeds.legs} legs learned ({speeds.dropped} dropped), {len(speeds.cells)} cells"
    )
    head = ("horizon", "n", "fixed MAE", "p90", "learned MAE", "p90", "MAE -%")
    print(" ".join(f"{c:>{w}}" for c, w in zip(head, (8, 5, 10, 6, 12, 6, 7), strict=True)))
    for h in HORIZONS:
        f, g = errs["fixed"][h], errs["learned"][h]
        if not f:
            print(f"{h:>6} m {0:>5} {'-':>10}")
            continue
        fm, gm = float(np.mean(f)), float(np.mean(g))
        fp, gp = float(np.percentile(f, 90)), float(np.percentile(g, 90))
        red = 100 * (1 - gm / fm) if fm > 0 else 0.0
        print(f"{h:>6} m {len(f):>5} {fm:>10.2f} {fp:>6.2f} {gm:>12.2f} {gp:>6.2f} {red:>6.1f}%")
    if args.curve:
        print("days of history   MAE -% at " + " ".join(f"{h:>5} m" for h in HORIZONS))
        for d in range(1, days + 1):
            e = errs if d == days else run(d, vehicles, args.seed)[1]
            cut = [100 * (1 - np.mean(e["learned"][h]) / np.mean(e["fixed"][h])) for h in HORIZONS]
            print(f"{d:>15} {'':>10} " + " ".join(f"{c:>6.1f}%" for c in cut))
    print(f"({time.perf_counter() - t0:.1f} s; errors in minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
