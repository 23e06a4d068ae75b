"""Ingest throughput through a real Mosquitto on loopback, against a bare-paho baseline.

One run measures, on the same broker and the same messages:

(a) baseline: a bare paho subscriber doing ``json.loads`` on every payload;
(b) the console's full ingest: TelemetryClient → decode/validate/filter → live queue → drain
    (a 200 ms tick thread, as the GUI timer) → FleetState, and the BatchWriter persisting every
    position to SQLite through the console's own storage path: thinning (docs/history.md) in front
    of the SQL sink (``--sink sqlalchemy`` stores every fix, ``--sink sqlite3`` uses a minimal
    raw sqlite3 sink for comparison).

Publishing is taken out of the measurement: the subscriber's persistent session is created
first and then disconnected; publisher processes fill the broker's queue for it (QoS 0 queued
for offline sessions); the subscriber then reconnects and drains the backlog as fast as it can.
Targets: (b) >= 10,000 positions/s and >= 60 % of (a); RSS with 10,000 live vehicles < 300 MB.
(a), (a') and (b) alternate ``--repeat`` times (5) and medians are reported, wall-clock and
per CPU-second (the machine is shared: single runs swing by ±15 %). The decoder uses orjson
when installed.

The console reads its socket through a buffer (``dispatcher/telemetry/buffered.py``); paho
reads byte by byte. That transport gain counts in (b), as it is part of the console's ingest;
so that it does not hide the pipeline's own cost, (a') runs the bare subscriber with the same
buffered reads and (b)/(a') is printed too. The console also lengthens the GIL switch interval
(``tune_switch_interval``) for (b); (a) and (a') keep CPython's default (they run on one
thread, where it would change nothing).

Run: ``.venv/bin/python bench/ingest.py [--vehicles 10000 --rounds 20 --publishers 2]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.broker import EmbeddedBroker
from dispatcher.clock import SystemClock
from dispatcher.devices.registry import DeviceRegistry
from dispatcher.events import EventBus
from dispatcher.fleet import FleetState
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.buffered import BufferedClient
from dispatcher.telemetry.decoder import build_decoder
from dispatcher.telemetry.ingest import IngestPipeline, tune_switch_interval
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from dispatcher.telemetry.sink import BatchWriter, TelemetrySink

BARE_PREFIX = "bare"
TOPIC = f"{BARE_PREFIX}/vehicles/+/position"
BROKER_TUNING = [
    "max_queued_messages 0",
    "max_queued_bytes 0",
    "queue_qos0_messages true",
    "max_inflight_messages 0",
]


CHUNK = 500


class Sqlite3Sink:
    """The smallest honest sink: one executemany per batch in one transaction, WAL mode."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE positions (vehicle_id TEXT, ts REAL, lat REAL, lon REAL, speed REAL,"
            " heading REAL, accuracy REAL, battery REAL, source TEXT)"
        )
        self._db.execute(
            "CREATE TABLE events (event_id TEXT PRIMARY KEY, vehicle_id TEXT, kind TEXT, ts REAL)"
        )

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        rows = [
            (
                p.vehicle_id,
                p.ts.timestamp(),
                p.lat,
                p.lon,
                p.speed_kmh,
                p.heading_deg,
                p.accuracy_m,
                p.battery_pct,
                p.source,
            )
            for p in batch
        ]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO positions VALUES (?,?,?,?,?,?,?,?,?)", rows)
        self._db.execute("COMMIT")

    def write_events(self, batch: Sequence[EventReport]) -> None:
        rows = [(e.event_id, e.vehicle_id, e.kind.value, e.ts.timestamp()) for e in batch]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?)", rows)
        self._db.execute("COMMIT")

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM positions").fetchone()[0])


def sqlalchemy_sink(path: Path) -> TelemetrySink:
    """The console's SQL sink without thinning: every fix becomes a row."""
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

    return SqlTelemetrySink(Database(f"sqlite:///{path}"))


def console_sink(path: Path) -> TelemetrySink:
    """Exactly what ``LiveTelemetry`` writes through: the device registry's health sink
    (docs/mqtt.md) around thinning (default policy, docs/history.md) in front of the SQL
    sink, on a migrated SQLite database."""
    from dispatcher.devices.registry import DeviceRegistry
    from dispatcher.devices.sink import RegistrySink
    from dispatcher.history.settings import HistorySettings
    from dispatcher.history.thinning import ThinningSink
    from dispatcher.persistence.database import Database
    from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

    sql = SqlTelemetrySink(Database(f"sqlite:///{path}"))
    thinning = ThinningSink(sql, HistorySettings().thinning)
    return RegistrySink(thinning, DeviceRegistry(), SystemClock(), evictables=(thinning, sql))


SINKS = {"console": console_sink, "sqlalchemy": sqlalchemy_sink, "sqlite3": Sqlite3Sink}


def payloads(
    vehicles: int, rounds: int, worker: int, workers: int, prefix: str = "fleet"
) -> list[tuple[str, bytes]]:
    """This publisher's share: every vehicle's fixes, one second apart, ending a minute ago."""
    start = time.time() - 60 - rounds
    out = []
    for r in range(rounds):
        for v in range(worker, vehicles, workers):
            body = {
                "v": 1,
                "ts": round(start + r, 3),
                "lat": 52.0 + v * 1e-4 + r * 1e-4,
                "lon": 4.0 + v * 1e-4,
                "speed_kmh": 36.0,
                "heading_deg": 0.0,
                "accuracy_m": 5.0,
                "battery_pct": 80.0,
            }
            out.append((f"{prefix}/vehicles/VAN-{v:05d}/position", json.dumps(body).encode()))
    return out


def publish_worker(
    host: str, port: int, vehicles: int, rounds: int, worker: int, workers: int, prefix: str
) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{worker}-{uuid.uuid4().hex[:4]}"
    )
    client.max_queued_messages_set(0)
    client.connect(host, port, keepalive=60)
    client.loop_start()
    info = None
    for topic, body in payloads(vehicles, rounds, worker, workers, prefix):
        info = client.publish(topic, body, qos=0)
    if info is not None:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def fill_backlog(
    broker: EmbeddedBroker, vehicles: int, rounds: int, workers: int, prefix: str
) -> float:
    """Publish the messages from ``workers`` processes; returns the seconds it took."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=publish_worker,
            args=(broker.host, broker.port, vehicles, rounds, w, workers, prefix),
        )
        for w in range(workers)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return time.perf_counter() - t0


def prime_bare(host: str, port: int, client_id: str) -> None:
    """Create the persistent session (subscription) and leave."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.connect(host, port)
    client.subscribe(TOPIC, qos=0)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def run_bare(
    host: str, port: int, client_id: str, expected: int, buffered: bool = False
) -> tuple[float, int]:
    count = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal count, first, last
        if count == 0:
            first = time.perf_counter()
        json.loads(msg.payload)
        count += 1
        if count >= expected:
            last = time.perf_counter()
            done.set()

    cls = BufferedClient if buffered else mqtt.Client
    client = cls(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    done.wait(600)
    client.disconnect()
    client.loop_stop()
    return (last - first if last else float("nan")), count


def full_stack(
    url: str, sink: TelemetrySink
) -> tuple[TelemetryClient, IngestPipeline, BatchWriter]:
    clock = SystemClock()
    # As the console: only the vehicles table's ids are taken as they are (docs/mqtt.md).
    known = {f"VAN-{v:05d}" for v in range(100_000)}
    bindings = DeviceBindings(clock=clock, known_vehicles=known)
    decoder = build_decoder(clock=clock, bindings=bindings, registry=DeviceRegistry())
    writer = BatchWriter(sink, max_batch=5000)
    pipeline = IngestPipeline(decoder, FleetState(), EventBus(), clock, writer=writer)
    settings = MqttSettings(url=url, console_id="bench", keepalive_s=60)
    client = TelemetryClient(settings, pipeline.on_message, subscriptions=decoder.subscriptions())
    return client, pipeline, writer


def run_full(
    url: str, sink: TelemetrySink, expected: int
) -> tuple[float, IngestPipeline, BatchWriter]:
    default_interval = sys.getswitchinterval()
    tune_switch_interval()  # as LiveTelemetry.start does in the console and `serve`
    client, pipeline, writer = full_stack(url, sink)
    first = [0.0]
    inner = pipeline.on_message

    def timed(topic: str, payload: bytes, ack: object = None) -> object:
        if not first[0]:
            first[0] = time.perf_counter()
        return inner(topic, payload, ack)  # type: ignore[arg-type]

    pipeline.on_message = timed  # type: ignore[method-assign]
    client._handler = timed
    stop = threading.Event()
    ticker = threading.Thread(target=pipeline.run, args=(stop, 0.2), daemon=True)
    writer.start()
    ticker.start()
    client.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if writer.stats.positions_written + writer.stats.positions_dropped >= expected:
            break
        time.sleep(0.01)
    end = time.perf_counter()
    stop.set()
    ticker.join()
    client.stop()
    writer.stop()
    sys.setswitchinterval(default_interval)  # (a) and (a') run with CPython's default
    return end - first[0], pipeline, writer


def stored_rows(path: Path) -> int:
    """Rows in the positions table after a run (thinning keeps a fraction of the fixes)."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM positions").fetchone()[0])


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10, help="fixes per vehicle per run")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved (a)/(b) runs")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument(
        "--sink",
        choices=sorted(SINKS),
        default="console",
        help="console: thinning + SQL sink, as the console runs (default); sqlalchemy: the SQL "
        "sink storing every fix; sqlite3: a minimal raw sqlite3 sink",
    )
    args = parser.parse_args()
    n = args.vehicles * args.rounds
    bare: list[tuple[float, float]] = []  # (wall rate, CPU rate)
    buffered: list[float] = []
    full: list[tuple[float, float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(prefer="mosquitto", extra_config=BROKER_TUNING) as broker,
    ):
        print(f"mosquitto at {broker.url}; {n} positions from {args.vehicles} vehicles per run")
        prime_bare(broker.host, broker.port, "bench-bare")
        client, _, _ = full_stack(broker.url, Sqlite3Sink(Path(tmp) / "prime.db"))
        client.start()
        client.wait_connected(10)
        client.stop()
        for rep in range(args.repeat):
            pub_s = fill_backlog(broker, args.vehicles, args.rounds, args.publishers, BARE_PREFIX)
            cpu0 = time.process_time()
            bare_s, got = run_bare(broker.host, broker.port, "bench-bare", n)
            bare.append((got / bare_s, got / (time.process_time() - cpu0)))
            print(
                f"  run {rep + 1}: (a) {bare[-1][0]:>8,.0f} msg/s "
                f"(backlog filled at {n / pub_s:,.0f} msg/s, not measured)"
            )
            fill_backlog(broker, args.vehicles, args.rounds, args.publishers, BARE_PREFIX)
            buf_s, got = run_bare(broker.host, broker.port, "bench-bare", n, buffered=True)
            buffered.append(got / buf_s)
            print(f"  run {rep + 1}: (a') {buffered[-1]:>7,.0f} msg/s, bare paho + buffered reads")

            fill_backlog(broker, args.vehicles, args.rounds, args.publishers, "fleet")
            path = Path(tmp) / f"bench-{rep}.db"
            sink = SINKS[args.sink](path)
            cpu0 = time.process_time()
            full_s, pipeline, writer = run_full(broker.url, sink, n)
            done = writer.stats.positions_written
            full.append((done / full_s, done / (time.process_time() - cpu0)))
            stats = pipeline.stats
            print(
                f"  run {rep + 1}: (b) {full[-1][0]:>8,.0f} pos/s through to storage, "
                f"{stored_rows(path):,} rows stored "
                f"(received {stats.received}, rejected {stats.rejected}, "
                f"dropped live {stats.dropped_positions}, "
                f"dropped storage {writer.stats.positions_dropped}, "
                f"live vehicles {len(pipeline.fleet)})"
            )
        rss = rss_mb()
    a_wall, a_cpu = (statistics.median(x[i] for x in bare) for i in (0, 1))
    b_wall, b_cpu = (statistics.median(x[i] for x in full) for i in (0, 1))
    print(f"(a) bare paho + json.loads : {a_wall:>9,.0f} msg/s   (per CPU-second {a_cpu:,.0f})")
    label = f"(b) full ingest, {args.sink}"
    print(f"{label:27s}: {b_wall:>9,.0f} pos/s   (per CPU-second {b_cpu:,.0f})")
    a_buf = statistics.median(buffered)
    print(
        f"(a') (a) + the console's buffered socket reads: {a_buf:,.0f} msg/s; (b)/(a') = "
        f"{b_wall / a_buf:.0%} (the pipeline alone, transport gains taken out)"
    )
    print(
        f"ratio (b)/(a), median wall: {b_wall / a_wall:.0%}   per CPU-second: "
        f"{b_cpu / a_cpu:.0%}   RSS with {args.vehicles} live vehicles: {rss:.0f} MB"
    )
    ok = b_wall >= 10_000 and b_wall / a_wall >= 0.6 and rss < 300
    print("targets (>= 10,000/s, >= 60 %, < 300 MB):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
