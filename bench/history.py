"""History at a control room's scale: day partitions on PostgreSQL against one plain table.

One simulated shift of a fleet at 1 Hz (default 2,000 vehicles x 10 h) is fed through the
console's real write path — :class:`ThinningSink` (default policy) in batches of 2,000 raw fixes
(the batch writer's size), plus an arrived/delivered event pair per stop — and each thinned
batch is written by :class:`SqlTelemetrySink` into every *layout*, timed separately:

* ``partitioned``: a fresh database migrated by the app (migration partition_1: one partition
  per UTC day, the writer creating them);
* ``plain`` (the baseline): a fresh database migrated, then ``positions`` put back as the one
  table it was before partition_1, with the same indexes (the unique (vehicle, ts) included):
  only the partitioning differs.

The shift starts at ``--start`` (UTC, default 15:00: 07:00 on the US west coast), so it crosses
midnight UTC and its history lies on two days, as a fleet's day does in any zone but UTC's.
Then, per layout, best of 3 runs (first run in brackets): replay of one vehicle for one hour;
the replay window of all vehicles for one hour (mid-shift); all vehicles at one instant (each
one's last fix in the 2 hours before it; at an instant just after midnight UTC, so both days are
read); proof of visit (100 m around a stop over the shift and over 2 h, a ~1 km² zone over 2 h);
and retention of the first day: dropping its partition against the app's batched ``DELETE``
(``prune_batch`` 5,000) of the same rows. Each figure is printed with the ratio
partitioned / plain (below 1: the partitioned layout is faster).

PostgreSQL databases are created on the server of ``DISPATCHER_TEST_PG_URL`` and dropped
afterwards. ``--layouts sqlite`` runs the plain table on SQLite instead. Run:
``.venv/bin/python bench/history.py [--vehicles 2000 --hours 10 --layouts partitioned,plain]``
"""

from __future__ import annotations

import argparse
import contextlib
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


def fixes(tracks: list[Track], day0: datetime, start: int, end: int) -> list[PositionReport]:
    """Every vehicle's fixes of seconds [start, end) of the shift, second by second."""
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
    stamps = [day0 + timedelta(seconds=s) for s in range(start, end)]
    for i, ts in enumerate(stamps):
        for vid, lat, lon, spd, hdg in cols:
            rows.append(PositionReport(vid, ts, lat[i], lon[i], spd[i], hdg[i], 5.0))
    return rows


def events(tracks: list[Track], day0: datetime) -> list[EventReport]:
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
                        day0 + timedelta(seconds=s),
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
def fresh_database(layout: str) -> Iterator[tuple[Database, Callable[[], int]]]:
    """A fresh database migrated by the app, in ``layout``; and its size in bytes."""
    if layout == "sqlite":
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
        raise SystemExit("DISPATCHER_TEST_PG_URL is not set (a PostgreSQL server to use)")
    admin = make_url(admin_url)
    name = f"bench_{layout}_{uuid.uuid4().hex[:8]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(admin.set(database=name).render_as_string(hide_password=False))
    if layout == "plain":
        unpartition(db)

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


def unpartition(db: Database) -> None:
    """``positions`` as before migration partition_1 (one table), with today's unique index."""
    from dispatcher.persistence import database as dbmod

    dbmod.downgrade(db.engine, "registry_1")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_positions_vehicle_ts")
        conn.exec_driver_sql(
            "CREATE UNIQUE INDEX ux_positions_vehicle_ts ON positions (vehicle_id, ts)"
        )


class TimedSink:
    """Writes each batch into every layout's SQL sink, timing each one on its own."""

    def __init__(self, dbs: dict[str, Database]) -> None:
        self.sinks = {name: SqlTelemetrySink(db) for name, db in dbs.items()}
        self.seconds = dict.fromkeys(dbs, 0.0)
        self.rows = 0

    def write_positions(self, batch: Any) -> None:
        self.rows += len(batch)
        order = list(self.sinks.items())
        self._flip = not getattr(self, "_flip", False)  # neither layout always writes first
        for name, sink in reversed(order) if self._flip else order:
            t = time.perf_counter()
            sink.write_positions(batch)
            self.seconds[name] += time.perf_counter() - t

    def write_events(self, batch: Any) -> None:
        for sink in self.sinks.values():
            sink.write_events(batch)


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float, float]:
    """(result, first run s, best of ``repeat`` s)."""
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, times[0], min(times)


class Report:
    """Figures per layout, printed as a table with the ratio to the baseline."""

    def __init__(self, layouts: list[str]) -> None:
        self.layouts = layouts
        self.rows: list[tuple[str, dict[str, str], str]] = []

    def add(self, label: str, values: dict[str, float], unit: str, fmt: str = "{:.3f}") -> None:
        cells = {k: fmt.format(v) + unit for k, v in values.items()}
        ratio = ""
        if "partitioned" in values and values.get("plain"):
            ratio = f"{values['partitioned'] / values['plain']:.2f}"
        self.rows.append((label, cells, ratio))
        print(f"{label:<44} " + "  ".join(f"{k} {c}" for k, c in cells.items()), flush=True)

    def table(self) -> str:
        head = "| figure | " + " | ".join(self.layouts) + " | partitioned / plain |"
        lines = [head, "|---" * (len(self.layouts) + 2) + "|"]
        for label, cells, ratio in self.rows:
            row = " | ".join(cells.get(k, "") for k in self.layouts)
            lines.append(f"| {label} | {row} | {ratio} |")
        return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    seconds = int(args.hours * 3600)
    day0 = datetime.combine(datetime(2026, 11, 20).date(), args.start, UTC)
    rng = random.Random(args.seed)
    t = time.perf_counter()
    tracks = [Track(f"VAN-{v:04d}", seconds, rng) for v in range(args.vehicles)]
    print(
        f"\n## {args.vehicles} vehicles x {args.hours:g} h at 1 Hz from {day0:%Y-%m-%d %H:%M} UTC"
        f" (tracks generated in {time.perf_counter() - t:.1f} s); layouts {', '.join(layouts)}",
        flush=True,
    )
    report = Report(layouts)
    with contextlib.ExitStack() as stack:
        opened = {name: stack.enter_context(fresh_database(name)) for name in layouts}
        dbs = {name: db for name, (db, _) in opened.items()}
        tee = TimedSink(dbs)
        thin = ThinningSink(tee, ThinningPolicy())
        t_all = time.perf_counter()
        for start in range(0, seconds, SLAB_S):
            if start and start % 3600 == 0:
                print(
                    f"    {start // 3600} h written ({time.perf_counter() - t_all:.0f} s)",
                    flush=True,
                )
            slab = fixes(tracks, day0, start, min(start + SLAB_S, seconds))
            for i in range(0, len(slab), BATCH):
                thin.write_positions(slab[i : i + BATCH])
        evs = events(tracks, day0)
        for i in range(0, len(evs), BATCH):
            thin.write_events(evs[i : i + BATCH])
        raw = thin.thinner.seen
        print(
            f"raw fixes {raw:,}; stored {tee.rows:,} ({tee.rows / raw:.1%}, default thinning); "
            f"{len(evs):,} events; whole loop {time.perf_counter() - t_all:.0f} s",
            flush=True,
        )
        for db in dbs.values():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:  # what autovacuum does after a bulk load
                    conn.exec_driver_sql("ANALYZE positions")
                    conn.exec_driver_sql("ANALYZE vehicle_events")
        report.add(
            "write (SQL inserts, rows/s)",
            {k: tee.rows / v for k, v in tee.seconds.items()},
            "",
            "{:,.0f}",
        )
        report.add(
            "database size (MB)",
            {k: size() / 1e6 for k, (_, size) in opened.items()},
            "",
            "{:,.0f}",
        )
        queries(report, dbs, tracks, day0, seconds)
        retention(report, dbs, day0)
    print("\n" + report.table(), flush=True)


def queries(
    report: Report, dbs: dict[str, Database], tracks: list[Track], day0: datetime, seconds: int
) -> None:
    mid = day0 + timedelta(seconds=seconds // 2)
    midnight = datetime.combine(day0.date() + timedelta(days=1), datetime.min.time(), UTC)
    instant = min(midnight + timedelta(minutes=30), day0 + timedelta(seconds=seconds))
    target = tracks[0]
    arrive, _leave = target.stops[len(target.stops) // 2]
    lat, lon = float(target.lat[arrive]), float(target.lon[arrive])
    at = day0 + timedelta(seconds=arrive)
    end = day0 + timedelta(seconds=seconds)

    def one_vehicle(db: Database) -> int:
        with db.session() as session:
            t0, t1 = mid - timedelta(minutes=30), mid + timedelta(minutes=30)
            return len(history_repo.positions_between(session, t0, t1, [target.vid]))

    def at_instant(db: Database) -> int:
        with db.session() as session:
            return len(history_repo.replay_seeds(session, instant, instant - timedelta(hours=2)))

    zone = Polygon(
        (
            (lat - 0.0045, lon - 0.0075),
            (lat - 0.0045, lon + 0.0075),
            (lat + 0.0045, lon + 0.0075),
            (lat + 0.0045, lon - 0.0075),
        )
    )
    cases: list[tuple[str, Callable[[Database], Any], Callable[[Any], str]]] = [
        ("replay: one vehicle, 1 h", one_vehicle, lambda n: f"{n} fixes"),
        (
            "replay: all vehicles, 1 h window",
            lambda db: load_replay(db, mid - timedelta(minutes=30), mid + timedelta(minutes=30)),
            lambda w: f"{len(w.positions):,} fixes",
        ),
        (f"all vehicles at {instant:%H:%M} UTC (2 h back)", at_instant, lambda n: f"{n} vehicles"),
        (
            "proof of visit: 100 m, whole shift",
            lambda db: proof_of_visit(db, Circle(lat, lon, 100), day0, end),
            lambda v: f"{len(v)} vehicles",
        ),
        (
            "proof of visit: 100 m, 2 h",
            lambda db: proof_of_visit(
                db, Circle(lat, lon, 100), at - timedelta(hours=1), at + timedelta(hours=1)
            ),
            lambda v: f"{len(v)} vehicles",
        ),
        (
            "proof of visit: 1 km2 zone, 2 h",
            lambda db: proof_of_visit(db, zone, at - timedelta(hours=1), at + timedelta(hours=1)),
            lambda v: f"{len(v)} vehicles",
        ),
    ]
    for label, fn, says in cases:
        best: dict[str, float] = {}
        notes = []
        for name, db in dbs.items():
            result, first, fastest = timed(lambda fn=fn, db=db: fn(db))
            best[name] = fastest * 1000
            notes.append(f"{name}: {says(result)}, first {first * 1000:.0f} ms")
        report.add(f"{label} (ms)", best, "", "{:.1f}")
        print(f"    ({'; '.join(notes)})", flush=True)
    first_db = next(iter(dbs.values()))  # the replay player, on one layout
    window = load_replay(first_db, mid - timedelta(minutes=30), mid + timedelta(minutes=30))
    player, build, _ = timed(lambda: ReplayPlayer(window, speed=60), 1)
    frame, _, frame_s = timed(lambda: player.seek(mid), 5)
    print(
        f"    replay player: built in {build:.3f} s, one frame {frame_s * 1000:.1f} ms "
        f"({len(frame.positions)} vehicles)",
        flush=True,
    )


def retention(report: Report, dbs: dict[str, Database], day0: datetime) -> None:
    """Retention of the shift's first UTC day: what each layout does to let it go."""
    from dispatcher.clock import FakeClock
    from dispatcher.history.retention import RetentionService
    from dispatcher.history.settings import HistorySettings

    cutoff = datetime.combine(day0.date() + timedelta(days=1), datetime.min.time(), UTC)
    settings = HistorySettings(retention_days=30)
    took: dict[str, float] = {}
    for name, db in dbs.items():
        service = RetentionService(db, FakeClock(cutoff + timedelta(days=30)), settings)
        t = time.perf_counter()
        n = service.prune_all()
        took[name] = time.perf_counter() - t
        with db.session() as session:
            left = history_repo.count_positions(session)
        how = "partitions dropped" if service.partitioned else "batched DELETE"
        print(
            f"    retention {name}: {n:,} fixes ({how}) in {took[name]:.2f} s, {left:,} left",
            flush=True,
        )
    report.add("retention of the first day (s)", took, "", "{:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=2000)
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument(
        "--start",
        type=lambda s: datetime.strptime(s, "%H:%M").time(),
        default="15:00",
        help="shift start, HH:MM UTC (default 15:00: the shift crosses midnight UTC)",
    )
    ap.add_argument("--layouts", default="partitioned,plain", help="partitioned, plain, sqlite")
    ap.add_argument("--seed", type=int, default=1)
    run(ap.parse_args())


if __name__ == "__main__":
    main()
