"""KPIs across a year: the period queries in SQL on a year of a 100-vehicle fleet.

Two parts, on a fresh PostgreSQL database (created on the server of
``DISPATCHER_TEST_PG_URL``, dropped afterwards; ``--sqlite`` runs on a SQLite file instead):

1. **The period queries.** One year of route days (``--vehicles`` × ``--days``, default
   100 × 365 = 36,500 rows of ``kpi_route_days``, seeded values) is stored, then each query
   the KPI trends window runs is timed, best of 3 (first run in brackets): a month by
   vehicle (totals and the daily trend), a year by month for each grouping, a year's daily
   fleet trend.
2. **The rollup of one day** from raw data: the demo scenario with ``--vehicles`` vehicles and
   30 stops each, every vehicle's track for 10 h at one fix per 30 s (1,200 fixes each,
   written through the console's telemetry sink) and an arrived/delivered pair per stop; then
   :func:`dispatcher.kpi.rollup.rollup_days` of that day is timed (read, compute in Python,
   store). This is what the window does once for every finished day it finds missing.

Figures are printed, never asserted (the machine's load changes them). Run:
``.venv/bin/python bench/kpi_year.py [--vehicles 100 --days 365] [--sqlite]``
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.kpi.rollup import rollup_days
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import fleet_repo, kpi_period_repo, route_kpi_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.scenario.demo import demo_scenario
from dispatcher.scenario.kpi_history import synthetic_day

TZ = ZoneInfo("Europe/Berlin")


def store_year(db: Database, first: date, days: int, vehicles: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    stored = 0
    for i in range(days):
        day = first + timedelta(days=i)
        with db.session() as session:
            stored += route_kpi_repo.store_route_days(
                session, day, synthetic_day(day, vehicles, rng)
            )
    return stored


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times[0], result


@contextmanager
def database(use_sqlite: bool) -> Iterator[Database]:
    if use_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'kpi.sqlite3'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = os.environ.get("DISPATCHER_TEST_PG_URL")
    if not url:
        sys.exit("set DISPATCHER_TEST_PG_URL (or pass --sqlite)")
    admin = make_url(url)
    name = f"bench_kpi_{uuid.uuid4().hex[:8]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(admin.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_queries(db: Database, first: date, days: int, vehicles: int) -> None:
    t0 = time.perf_counter()
    rows = store_year(db, first, days, vehicles)
    print(f"stored {rows:,} route days ({vehicles} vehicles x {days} days) in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE kpi_route_days")
    last = first + timedelta(days=days - 1)
    month = (last.replace(day=1), last)
    cases: list[tuple[str, date, date, str, str]] = [
        ("month by vehicle (totals)", *month, "month", "vehicle"),
        ("month by vehicle (daily trend)", *month, "day", "vehicle"),
        ("month fleet (daily trend)", *month, "day", "fleet"),
        ("year by month, by vehicle", first, last, "month", "vehicle"),
        ("year by month, by driver", first, last, "month", "driver"),
        ("year by month, by depot", first, last, "month", "depot"),
        ("year by month, by area", first, last, "month", "area"),
        ("year by week, fleet", first, last, "week", "fleet"),
        ("year fleet (daily trend)", first, last, "day", "fleet"),
        ("year by vehicle (daily trend)", first, last, "day", "vehicle"),
    ]
    for label, start, end, bucket, group in cases:

        def query(s: date = start, e: date = end, b: str = bucket, g: str = group) -> int:
            with db.session() as session:
                return len(kpi_period_repo.period_rows(session, s, e, b, g))

        best, first_run, n = best_of(query)
        print(f"  {label:34s} {best * 1000:8.1f} ms  ({first_run * 1000:.1f})  {n:6,} rows")


def bench_rollup(db: Database, day: date, vehicles: int) -> None:
    scenario = demo_scenario(day, n_orders=30 * vehicles, n_vehicles=vehicles,
                             timezone=str(TZ))  # fmt: skip
    with db.session() as session:
        fleet_repo.save_scenario(session, scenario)
        routes = fleet_repo.load_routes(session, day)
    sink = SqlTelemetrySink(db)
    start = datetime.combine(day, datetime.min.time(), TZ).replace(hour=8).astimezone(UTC)
    batch: list[PositionReport] = []
    events: list[EventReport] = []
    fixes = 0
    for route in routes:
        points = [(s.lat, s.lon) for s in route.stops] or [(52.52, 13.40)]
        for k in range(1200):  # 10 h, one fix per 30 s, along the stops
            a = points[(k * len(points)) // 1200]
            b = points[min((k * len(points)) // 1200 + 1, len(points) - 1)]
            f = (k * len(points) / 1200) % 1
            ts = start + timedelta(seconds=30 * k)
            lat, lon = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
            batch.append(PositionReport(route.vehicle_id, ts, lat, lon))
            if len(batch) == 2000:
                sink.write_positions(batch)
                fixes += len(batch)
                batch = []
        for i, stop in enumerate(route.stops):
            at = start + timedelta(minutes=15 * i + 10)
            ref = stop.order_ref
            events.append(EventReport(route.vehicle_id, at, DeliveryEventKind.ARRIVED,
                                      f"a-{ref}", ref))  # fmt: skip
            events.append(EventReport(route.vehicle_id, at + timedelta(minutes=4),
                                      DeliveryEventKind.DELIVERED, f"d-{ref}", ref))  # fmt: skip
    sink.write_positions(batch)
    fixes += len(batch)
    t0 = time.perf_counter()
    for i in range(0, len(events), 500):
        sink.write_events(events[i : i + 500])
    write_s = time.perf_counter() - t0
    stops = sum(len(r.stops) for r in routes)
    print(
        f"day of {len(routes)} routes, {stops:,} stops, {fixes:,} fixes, {len(events):,} "
        f"events (events written, plans frozen, in {write_s:.1f} s)"
    )
    now = start + timedelta(days=1)
    best, first_run, n = best_of(lambda: rollup_days(db, [day], TZ, now), runs=2)
    print(f"  rollup of the day (read, compute, store) {best:6.2f} s  ({first_run:.2f})  {n} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--skip-rollup", action="store_true")
    args = parser.parse_args()
    first = date(2025, 12, 1)
    with database(args.sqlite) as db:
        print(f"{db.engine.dialect.name}: period queries")
        bench_queries(db, first, args.days, args.vehicles)
    if not args.skip_rollup:
        with database(args.sqlite) as db:
            print(f"{db.engine.dialect.name}: rollup of one day")
            bench_rollup(db, first + timedelta(days=args.days), args.vehicles)


if __name__ == "__main__":
    main()
