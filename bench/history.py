"""History at scale: one simulated day of a fleet at 1 Hz, thinned into SQLite and PostgreSQL.

For each backend, on a fresh database migrated by the app:

1. synthetic tracks (drive 200-800 m legs at 25-50 km/h with turns, stop 3-8 min every
   1.5-3 km with GPS jitter) for ``--vehicles`` vehicles over ``--hours`` hours at 1 Hz, fed
   second by second, interleaved across vehicles as ingest sees them, through the console's
   real write path: :class:`ThinningSink` (default policy) over :class:`SqlTelemetrySink`, in
   batches of 2,000 (the batch writer's size), plus an arrived/delivered event pair per stop;
2. prints raw fixes, rows stored, thinning ratio, write rate and database size;
3. times loading a 1-hour replay window (all vehicles, mid-day), building the player and one
   frame; and proof-of-visit queries (100 m around a stop over the whole day and over 2 hours,
   and a ~1 km^2 polygon zone over 2 hours). Each query: first run and best of 3.

Targets: replay window and proof of visit under 1 s. PostgreSQL uses a fresh database on the
server of ``DISPATCHER_TEST_PG_URL`` (dropped afterwards). Run:
``.venv/bin/python bench/history.py [--vehicles 500 --hours 10 --backends sqlite,postgres]``
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.history.replay import ReplayPlayer, load_replay
from dispatcher.history.settings import ThinningPolicy
from dispatcher.history.thinning import ThinningSink
from dispatcher.history.visits import Circle, Polygon, proof_of_visit
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

DAY_START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
CENTRE = (52.52, 13.40)
M_PER_DEG_LAT = 111_195.0
BATCH = 2000
SLAB_S = 60


class Track:
    """One vehicle's day at 1 Hz (numpy arrays) and the times and places of its stops."""

    def __init__(self, vid: str, seconds: int, rng: random.Random) -> None:
        self.vid = vid
        lat0 = CENTRE[0] + rng.uniform(-0.1, 0.1)
        lon0 = CENTRE[1] + rng.uniform(-0.15, 0.15)
        speed = np.zeros(seconds)
        heading = np.zeros(seconds)
        self.stops: list[tuple[int, int]] = []  # (arrive second, leave second)
        t, h, since_stop, next_stop = 0, rng.uniform(0, 360), 0.0, rng.uniform(1500, 3000)
        while t < seconds:
            if since_stop >= next_stop:
                dwell = rng.randint(180, 480)
                self.stops.append((t, min(t + dwell, seconds - 1)))
                t += dwell  # speed stays 0
                since_stop, next_stop = 0.0, rng.uniform(1500, 3000)
                continue
            v = rng.uniform(7, 14)
            leg = int(rng.uniform(200, 800) / v)
            speed[t : t + leg] = v
            heading[t : t + leg] = h
            t += leg
            since_stop += v * leg
            h = (h + rng.choice((-90, 90, -30, 30, 0))) % 360
        rad = np.radians(heading)
        north = np.cumsum(speed * np.cos(rad))
        east = np.cumsum(speed * np.sin(rad))
        jitter = np.asarray([rng.gauss(0, 2) for _ in range(2)])
        self.lat = lat0 + north / M_PER_DEG_LAT + jitter[0] / M_PER_DEG_LAT
        self.lon = lon0 + east / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 2.0, (2, seconds))
        self.lat += noise[0] / M_PER_DEG_LAT
        self.lon += noise[1] / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
        self.speed_kmh = speed * 3.6
        self.heading = heading


def fixes(tracks: list[Track], start: int, end: int) -> list[PositionReport]:
    """Every vehicle's fixes of seconds [start, end), second by second."""
    rows: list[PositionReport] = []
    cols = [
        (
            t.vid,
            t.lat[start:end].tolist(),
            t.lon[start:end].tolist(),
            t.speed_kmh[start:end].tolist(),
            t.heading[start:end].tolist(),
        )
        for t in tracks
    ]
    stamps = [DAY_START + timedelta(seconds=s) for s in range(start, end)]
    for i, ts in enumerate(stamps):
        for vid, lat, lon, spd, hdg in cols:
            rows.append(PositionReport(vid, ts, lat[i], lon[i], spd[i], hdg[i], 5.0))
    return rows


def events(tracks: list[Track]) -> list[EventReport]:
    out = []
    for t in tracks:
        for n, (arrive, leave) in enumerate(t.stops):
            for kind, s in (
                (DeliveryEventKind.ARRIVED, arrive),
                (DeliveryEventKind.DELIVERED, leave),
            ):
                out.append(
                    EventReport(
                        t.vid,
                        DAY_START + timedelta(seconds=s),
                        kind,
                        f"{t.vid}-{n}-{kind.value}",
                        stop_id=f"{t.vid}-{n}",
                        lat=float(t.lat[s]),
                        lon=float(t.lon[s]),
                    )
                )
    out.sort(key=lambda e: e.ts)
    return out


@contextmanager
def fresh_database(backend: str) -> Iterator[tuple[Database, Callable[[], int]]]:
    """A fresh, migrated database and a function returning its size in bytes."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.sqlite3"
            db = Database(f"sqlite:///{path}")

            def size() -> int:
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return sum(p.stat().st_size for p in Path(tmp).iterdir())

            try:
                yield db, size
            finally:
                db.dispose()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get("DISPATCHER_TEST_PG_URL")
    if not admin_url:
        raise SystemExit(
            "DISPATCHER_TEST_PG_URL is not set (source /tmp/env.sh or .ci/services.sh)"
        )
    admin = make_url(admin_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(admin.set(database=name).render_as_string(hide_password=False))

    def pg_size() -> int:
        with db.engine.connect() as c:
            return int(
                c.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0
            )

    try:
        yield db, pg_size
    finally:
        db.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float, float]:
    """(result, first run s, best of ``repeat`` s)."""
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, times[0], min(times)


def run(backend: str, n_vehicles: int, hours: float, seed: int) -> None:
    seconds = int(hours * 3600)
    rng = random.Random(seed)
    t = time.perf_counter()
    tracks = [Track(f"VAN-{v:04d}", seconds, rng) for v in range(n_vehicles)]
    print(
        f"\n## {backend}: {n_vehicles} vehicles x {hours:g} h at 1 Hz "
        f"(tracks generated in {time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    with fresh_database(backend) as (db, size):
        sink = ThinningSink(SqlTelemetrySink(db), ThinningPolicy())
        write_s = 0.0
        t_all = time.perf_counter()
        for start in range(0, seconds, SLAB_S):
            slab = fixes(tracks, start, min(start + SLAB_S, seconds))
            t = time.perf_counter()
            for i in range(0, len(slab), BATCH):
                sink.write_positions(slab[i : i + BATCH])
            write_s += time.perf_counter() - t
        evs = events(tracks)
        t = time.perf_counter()
        for i in range(0, len(evs), BATCH):
            sink.write_events(evs[i : i + BATCH])
        events_s = time.perf_counter() - t
        total_s = time.perf_counter() - t_all
        raw = sink.thinner.seen
        with db.session() as session:
            stored = history_repo.count_positions(session)
        if backend in {"postgresql", "postgres"}:
            with db.engine.begin() as conn:  # what autovacuum does after a bulk load
                conn.exec_driver_sql("ANALYZE positions")
                conn.exec_driver_sql("ANALYZE vehicle_events")
        print(f"raw fixes           {raw:>12,}")
        print(f"rows stored         {stored:>12,}  ({stored / raw:.1%} kept, default policy)")
        print(
            f"thin+write          {write_s:>11.1f} s  ({raw / write_s:,.0f} raw fixes/s; "
            f"whole loop incl. generation {total_s:.0f} s)"
        )
        print(f"events              {len(evs):>12,}  ({events_s:.1f} s)")
        print(f"database size       {size() / 1e6:>11.1f} MB", flush=True)

        mid = DAY_START + timedelta(seconds=seconds // 2)
        t0, t1 = mid - timedelta(minutes=30), mid + timedelta(minutes=30)
        window, first, best = timed(lambda: load_replay(db, t0, t1))
        print(
            f"replay 1 h window   {best:>11.3f} s best of 3 (first {first:.3f} s): "
            f"{len(window.positions):,} positions, {len(window.seeds)} seeds, "
            f"{len(window.events)} events"
        )
        player, p_first, _ = timed(lambda: ReplayPlayer(window, speed=60), 1)
        frame, _, f_best = timed(lambda: player.seek(mid), 5)
        print(
            f"replay player       {p_first:>11.3f} s to build; one frame {f_best * 1000:.1f} ms "
            f"({len(frame.positions)} vehicles)"
        )

        target = tracks[0]
        arrive, _leave = target.stops[len(target.stops) // 2]
        lat, lon = float(target.lat[arrive]), float(target.lon[arrive])
        day0, day1 = DAY_START, DAY_START + timedelta(seconds=seconds)
        at = DAY_START + timedelta(seconds=arrive)
        questions = [
            ("100 m, whole day", Circle(lat, lon, 100), day0, day1),
            (
                "100 m, 2 hours",
                Circle(lat, lon, 100),
                at - timedelta(hours=1),
                at + timedelta(hours=1),
            ),
            (
                "1 km2 zone, 2 h",
                Polygon(
                    (
                        (lat - 0.0045, lon - 0.0075),
                        (lat - 0.0045, lon + 0.0075),
                        (lat + 0.0045, lon + 0.0075),
                        (lat + 0.0045, lon - 0.0075),
                    )
                ),
                at - timedelta(hours=1),
                at + timedelta(hours=1),
            ),
        ]
        for label, zone, a, b in questions:
            visits, first, best = timed(lambda z=zone, a=a, b=b: proof_of_visit(db, z, a, b))
            found = target.vid in {v.vehicle_id for v in visits}
            print(
                f"proof of visit {label:<17} {best:.3f} s best of 3 (first {first:.3f} s): "
                f"{len(visits)} vehicles, the stopped one found: {found}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=500)
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    for backend in args.backends.split(","):
        run(backend.strip(), args.vehicles, args.hours, args.seed)


if __name__ == "__main__":
    main()
