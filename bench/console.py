"""The whole console at a fleet's scale: 12, 100 and 500 vehicles driving (issue 17, item 3).

Per size and topology: the demo day of N vehicles and M stops is stored in a fresh SQLite
file (``--db`` names a PostgreSQL server instead: a database per size) and the real
:class:`~dispatcher_ui.main_window.MainWindow` is opened offscreen on it, in one of two
topologies (``--topology``, both by default):

* ``room``, a control room as docs/deploy.md sets one up: a Mosquitto of the bench's own, a
  recorder process (:mod:`bench.room`: ``dispatcher serve``'s services on the console's
  simulated clock; it stores, runs the alert rules and drives the simulated phones), and the
  console with ``[console] recorder = "external"``, which only reads and shows;
* ``alone``, as ``dispatcher demo`` and a small fleet's laptop run: one process with the
  embedded broker, the simulated fleet, the alert rules, the recording and messaging
  (:func:`dispatcher.app.build_core`).

Measured:

* ``paint``: from ``MainWindow(...)`` to the window's first paint (frame, docks, map, the
  empty boards and queue saying they are loading: the window does not wait for the day's
  read); ``routes shown``: from ``MainWindow(...)`` to the day's routes on the boards (the
  first paint a dispatcher can work the boards with); ``build``: the constructor alone;
* GUI-thread lateness of a 10 ms ``PreciseTimer`` while the fleet drives (p50 / p99 / max),
  next to the same timer in the same process with no window open (``idle``, the machine's
  own noise: the machine is shared, compare the rows, not the absolute figures);
* during that window, one F5 route reload, one exception-queue reload and one KPI refresh:
  wall time from request to shown, and the GUI thread's share (the callback that shows it);
* RSS after the run (``VmRSS``) and the process's peak (``VmHWM``): each run (a size in a
  topology) is a process of its own, so these are that run's alone;
* ``locked``: warnings and errors logged that say the database was locked (writers that
  waited out SQLite's busy timeout behind another's long transaction).

Goals at 500 vehicles / 10,000 stops (a control room's fleet: the ``room`` rows): p99 < 50 ms,
max < 250 ms, first paint < 3 s, RSS < 1.5 GB. ``--why`` prints where the GUI thread was
whenever it had not ticked for 100 ms;
``--profile N`` prints the N heaviest functions (cProfile, GUI thread, measured window only);
``--screenshot PATH`` saves the window of the last size (and ``PATH-loading``: the window at
its first paint, before the routes are shown). Run::

    QT_QPA_PLATFORM=offscreen nice -n 10 .venv/bin/python bench/console.py \\
        [--sizes 12:250,100:2500,500:10000 --seconds 8 --db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from dispatcher.app import LiveOptions, build_core
from dispatcher.broker import find_mosquitto, free_port, wait_for_port
from dispatcher.clock import ScaledClock, system_now
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.settings import demo_settings
from dispatcher.scenario.demo import TIMEZONE
from dispatcher.telemetry.ingest import favour_the_gui
from dispatcher_ui.main_window import MainWindow

GOALS = {"p99": 50.0, "max": 250.0, "paint": 3.0, "rss": 1536.0}


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def wait(app: QApplication, until: Callable[[], bool], timeout_s: float) -> bool:
    """Run the application's event loop until ``until()`` or ``timeout_s``.

    A real ``QEventLoop``, as ``app.exec()`` runs the console: the GUI thread sleeps in Qt
    with the GIL released and takes it only for the slots that fire. (A loop of
    ``processEvents()`` and ``time.sleep()`` took the GIL back after every sleep, and under
    load each of those waits was counted as the window's lateness.)
    """
    if until():
        return True
    end = time.perf_counter() + timeout_s
    loop = QEventLoop()
    poll = QTimer()

    def check() -> None:
        if until() or time.perf_counter() >= end:
            loop.quit()

    poll.timeout.connect(check)
    poll.start(20)
    loop.exec()
    poll.stop()
    return until()


class Probe:
    """A 10 ms timer on the GUI thread that records how late each tick is (ms)."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        t = time.perf_counter()
        self.lateness.append(max(0.0, (t - self.last - 0.010) * 1000))
        self.last = t

    def run(self, app: QApplication, seconds: float) -> dict[str, float]:
        self.lateness.clear()
        self.last = time.perf_counter()
        self.timer.start(10)
        wait(app, lambda: False, seconds)
        self.timer.stop()
        ms = self.lateness
        return {
            "ticks": len(ms),
            "p50": statistics.median(ms) if ms else 0.0,
            "p99": pct(ms, 0.99),
            "max": max(ms, default=0.0),
        }


def watchdog(stop: threading.Event, probe: Probe, limit_s: float = 0.1) -> dict[str, int]:
    """With ``--why``: where the GUI thread was when it had not ticked for ``limit_s``."""
    seen: dict[str, int] = {}
    main_id = threading.main_thread().ident

    def watch() -> None:
        while not stop.wait(limit_s / 2):
            if time.perf_counter() - probe.last > limit_s and main_id is not None:
                frame = sys._current_frames().get(main_id)
                where: list[str] = []
                while frame is not None and len(where) < 8:
                    code = frame.f_code
                    if "/dispatcher/" in code.co_filename or "/ui/" in code.co_filename:
                        where.append(f"{Path(code.co_filename).name}:{frame.f_lineno}")
                    frame = frame.f_back
                key = " < ".join(where[:5]) or "(Qt / outside our code)"
                seen[key] = seen.get(key, 0) + 1

    threading.Thread(target=watch, daemon=True).start()
    return seen


class LockedCount(logging.Handler):
    """Counts the warnings and errors that say the database was locked (SQLite's one write
    lock held too long by another writer: the recorder, the alert rules, the retention)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += str(record.exc_info[1])
        if "locked" in text:
            self.count += 1


class FirstPaint(QObject):
    """When the window first painted: the first ``QEvent.Paint`` any widget receives (an
    application-wide event filter, removed with :meth:`stop`)."""

    def __init__(self, app: QApplication) -> None:
        super().__init__()
        self.app = app
        self.at: float | None = None
        app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.at is None and event.type() == QEvent.Type.Paint:
            self.at = time.perf_counter()
        return False

    def stop(self) -> None:
        self.app.removeEventFilter(self)


class Timed:
    """Wall time from a request to its callback on the GUI thread, and that callback's own
    time (the GUI thread's share). Wraps an instance's bound method in place."""

    def __init__(self, owner: object, name: str) -> None:
        self.started = 0.0
        self.wall = self.gui = float("nan")
        inner = getattr(owner, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                t1 = time.perf_counter()
                if self.started and self.wall != self.wall:  # the first callback after start
                    self.gui = (t1 - t0) * 1000
                    self.wall = (t1 - self.started) * 1000

        setattr(owner, name, wrapped)

    def start(self) -> None:
        self.started = time.perf_counter()
        self.wall = self.gui = float("nan")


class Room:
    """The control room around the console (``--topology room``, :mod:`bench.room`): a
    Mosquitto of its own on a free loopback port and the recorder process (``serve``: it
    stores, runs the alert rules and drives the simulated phones) on the console's clock."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        conf = tmp / f"mosquitto-{port}.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n",
            encoding="utf-8",
        )
        self.broker_url = f"mqtt://127.0.0.1:{port}"
        self.broker = subprocess.Popen(  # our own arguments
            [str(find_mosquitto() or "mosquitto"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", port, 10)
        self.recorder: subprocess.Popen[str] | None = None

    def start_recorder(self, url: str, clock: ScaledClock, start: datetime, seed: int) -> None:
        self.recorder = subprocess.Popen(  # our own arguments
            [
                sys.executable,
                str(Path(__file__).with_name("room.py")),
                *("--db", url, "--broker", self.broker_url, "--timezone", TIMEZONE),
                *("--start", start.isoformat(), "--origin", repr(clock.origin)),
                *("--speed", repr(clock.speed), "--seed", str(seed)),
            ],
            stdin=subprocess.PIPE,  # its end stops the recorder (bench/room.py)
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.recorder.stdout is not None
        line = self.recorder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the room's recorder did not start: {line!r}")

    def close(self) -> None:
        for proc in (self.recorder, self.broker):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def build(
    url: str, vehicles: int, stops: int, seed: int, speed: float, room: Room | None
) -> tuple[Core, float]:
    """The console's core. Alone: as ``dispatcher demo`` builds it (embedded broker, the
    simulated fleet, the rules, it records). In a room: it only reads and shows (``[console]
    recorder = "external"``), on the room's broker; the room's recorder does the rest."""
    settings = Settings(database_url=url)
    settings.sections.setdefault("fleet", {})["timezone"] = TIMEZONE
    if room is not None:
        settings.broker.url = room.broker_url
        settings.sections["console"] = {"recorder": "external"}
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(TIMEZONE)
    start = datetime.combine(system_now(zone).date(), dtime(9, 30), zone)
    clock = ScaledClock(start, speed)
    t0 = time.perf_counter()
    core = build_core(
        settings,
        clock=clock,
        live=LiveOptions(
            embedded_broker=room is None, simulate_seed=seed if room is None else None
        ),
        prepare=lambda c: c.seed_demo_if_empty(seed=seed, vehicles=vehicles, stops=stops),
        messaging=demo_settings,
    )
    if room is not None:
        try:
            room.start_recorder(url, clock, start, seed)
        except BaseException:
            core.close()
            raise
    return core, time.perf_counter() - t0


def one_size(  # noqa: PLR0915  # one scripted session, read top to bottom
    app: QApplication,
    url: str,
    vehicles: int,
    stops: int,
    args: argparse.Namespace,
    tmp: Path,
    topology: str,
    *,
    shoot: bool = False,
) -> dict[str, Any]:
    """One size in one topology; ``shoot``: save ``--screenshot``'s two pictures of it."""
    root = logging.getLogger()
    # Python prints warnings through its "last resort" handler only while no handler is
    # installed: keep printing them next to the count.
    echo = None if root.handlers else logging.StreamHandler()
    locked = LockedCount()
    for handler in (locked, echo):
        if handler is not None:
            handler.setLevel(logging.WARNING)
            root.addHandler(handler)
    probe = Probe()
    idle = probe.run(app, args.idle)
    room = Room(tmp) if topology == "room" else None
    try:
        core, seed_s = build(url, vehicles, stops, args.seed, args.speed, room)
    except BaseException:
        if room is not None:
            room.close()
        raise
    qsettings = QSettings(str(tmp / f"ui-{vehicles}.ini"), QSettings.Format.IniFormat)
    painted = FirstPaint(app)
    t0 = time.perf_counter()
    window = MainWindow(core, qsettings, restore=False)
    window.resize(1600, 950)
    window.show()
    build_s = time.perf_counter() - t0
    wait(app, lambda: painted.at is not None or not window.routes_loading, 120)
    paint_s = (painted.at or time.perf_counter()) - t0
    painted.stop()
    loading_shown = window.routes_loading  # the first paint came before the routes
    if shoot and loading_shown:
        shot = Path(args.screenshot)
        shot.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(shot.with_name(f"{shot.stem}-loading{shot.suffix}")))
    wait(app, lambda: not window.routes_loading, 120)
    app.processEvents()
    window.repaint()
    routes_s = time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # as ui/dispatcher_ui/app.py does once the window is up, and
    favour_the_gui()  # its 2-ms GIL switch interval
    live = core.live
    assert live is not None

    def moving() -> bool:
        return len(live.fleet.vehicle_ids()) >= max(1, vehicles * 9 // 10)

    wait(app, moving, 30)  # the fleet has reported in
    wait(app, lambda: False, args.settle)

    routes = Timed(window, "_routes_read")
    queue = window.exceptions_panel
    alerts = Timed(queue, "_loaded")
    feed = window.docks["kpis"].widget().feed  # type: ignore[attr-defined]
    kpi = Timed(feed, "_done")

    def reload_routes() -> None:
        routes.start()
        window.reload_routes()

    def reload_queue() -> None:
        alerts.start()
        queue.reload()

    def refresh_kpis() -> None:
        kpi.start()
        if not feed.refresh():  # one already running: time the next
            QTimer.singleShot(200, refresh_kpis)

    seconds = args.seconds
    QTimer.singleShot(int(seconds * 250), reload_routes)
    QTimer.singleShot(int(seconds * 500), reload_queue)
    QTimer.singleShot(int(seconds * 750), refresh_kpis)
    done = threading.Event()
    blocked = watchdog(done, probe) if args.why else {}
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    run = probe.run(app, seconds)
    if profiler is not None:
        profiler.disable()
    done.set()
    wait(app, lambda: routes.wall == routes.wall and alerts.wall == alerts.wall, 30)
    wait(app, lambda: kpi.wall == kpi.wall, 30)
    rss, peak = rss_mb()
    for where, n in sorted(blocked.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  [{vehicles}] GUI thread blocked ({n}x): {where}")
    if profiler is not None:
        print(f"  [{vehicles}] GUI thread, heaviest functions (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    if shoot:
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.screenshot))
    received = live.stats().received
    window.close()
    core.close()
    if room is not None:
        room.close()
    for handler in (locked, echo):
        if handler is not None:
            root.removeHandler(handler)
    gc.unfreeze()
    window.deleteLater()
    wait(app, lambda: False, 0.5)
    return {
        "topology": topology,
        "vehicles": vehicles,
        "stops": stops,
        "seed_s": seed_s,
        "build_s": build_s,
        "paint_s": paint_s,
        "routes_s": routes_s,
        "loading_shown": loading_shown,
        "idle": idle,
        "run": run,
        "routes": (routes.wall, routes.gui),
        "alerts": (alerts.wall, alerts.gui),
        "kpi": (kpi.wall, kpi.gui),
        "rss": rss,
        "peak": peak,
        "received": received,
        "locked": locked.count,
    }


def database_url(base: str | None, tmp: Path, vehicles: int) -> str:
    """A fresh database per size: a SQLite file, or a new database on ``base``'s server."""
    if not base:
        return f"sqlite:///{tmp / f'console-{vehicles}.sqlite3'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_console_{vehicles}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_database(base: str | None, url: str) -> None:
    if not base:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"{'topology':>8}{'vehicles':>9}{'stops':>7}{'paint s':>8}{'routes shown s':>15}"
        f"{'build s':>8}"
        f"{'idle p99/max':>14}{'p50':>8}{'p99':>8}{'max':>8}"
        f"{'routes ms (gui)':>17}{'queue ms (gui)':>16}{'kpi ms (gui)':>15}{'RSS MB':>8}"
        f"{'peak':>6}{'msgs':>7}{'locked':>7}"
    )
    for r in results:
        idle, run = r["idle"], r["run"]

        def pair(v: tuple[float, float]) -> str:
            return f"{v[0]:.0f} ({v[1]:.0f})"

        idle_text = f"{idle['p99']:.1f}/{idle['max']:.0f}"

        print(
            f"{r['topology']:>8}{r['vehicles']:>9}{r['stops']:>7}{r['paint_s']:>8.2f}{r['routes_s']:>15.2f}"
            f"{r['build_s']:>8.2f}"
            f"{idle_text:>14}{run['p50']:>8.1f}{run['p99']:>8.1f}"
            f"{run['max']:>8.0f}{pair(r['routes']):>17}{pair(r['alerts']):>16}"
            f"{pair(r['kpi']):>15}{r['rss']:>8.0f}{r['peak']:>6.0f}{r['received']:>7}"
            f"{r['locked']:>7}"
        )
    for topology in dict.fromkeys(r["topology"] for r in results):
        big = max((r for r in results if r["topology"] == topology), key=lambda r: r["vehicles"])
        checks = {
            "p99": big["run"]["p99"],
            "max": big["run"]["max"],
            "paint": big["paint_s"],
            "rss": big["rss"],
        }
        verdict = ", ".join(
            f"{k} {v:.1f} " + (f"< {GOALS[k]:g} ok" if v < GOALS[k] else f">= {GOALS[k]:g} MISSED")
            for k, v in checks.items()
        )
        print(f"goals at {big['vehicles']} vehicles ({topology}): {verdict}")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        n, _, m = part.partition(":")
        sizes.append((int(n), int(m) if m else int(n) * 20))
    return sizes


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="12:250,100:2500,500:10000", help="vehicles:stops,... (stops: 20/veh)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per size")
    parser.add_argument("--idle", type=float, default=3.0, help="idle baseline per size")
    parser.add_argument("--settle", type=float, default=2.0, help="wait after start-up")
    parser.add_argument("--speed", type=float, default=10.0, help="simulated time speed-up")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--why", action="store_true", help="say where the GUI thread blocked")
    parser.add_argument("--profile", type=int, default=0, help="print the N heaviest functions")
    parser.add_argument("--screenshot", type=Path, default=None, help="PNG of the last size")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--topology",
        default="room,alone",
        help="room (a recorder process records and runs the rules; the console only reads, "
        "as docs/deploy.md sets up a control room), alone (the console does everything, as "
        "dispatcher demo and a small fleet's laptop), or both, comma-separated",
    )
    args = parser.parse_args(argv)
    runs = [
        (topology, vehicles, stops)
        for topology in args.topology.split(",")
        for vehicles, stops in parse_sizes(args.sizes)
    ]
    if len(runs) > 1 and not args.one:
        return each_in_a_process(args, runs)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as name:
        tmp = Path(name)
        # The broker's home, the capture file and QSettings live in the temp dir, not in the
        # user's (another console or bench on this machine keeps its own).
        for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[var] = str(tmp / var.lower())
        app = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(app, QApplication)
        results = []
        for topology, vehicles, stops in runs:
            shoot = args.screenshot is not None and (topology, vehicles, stops) == runs[-1]
            url = database_url(args.db, tmp, vehicles)
            try:
                results.append(
                    one_size(app, url, vehicles, stops, args, tmp, topology, shoot=shoot)
                )
            finally:
                drop_database(args.db, url)
            report(results[-1:])
    if len(results) > 1:
        report(results)
    return written(args, results)


def written(args: argparse.Namespace, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results``, also written to ``--json`` when asked."""
    if args.json is not None:
        args.json.write_text(json.dumps(results, default=str), encoding="utf-8")
    return results


def each_in_a_process(
    args: argparse.Namespace, runs: list[tuple[str, int, int]]
) -> list[dict[str, Any]]:
    """Run each (topology, size) in a fresh process of this script, and report them together.

    A run's RSS and peak are then its own, not what the sizes before it left behind; and a
    window opened after another in one process crashed in libpyside6 three times on
    2026-12-05 (a segfault at address 8, a ``typeid`` of a deleted object: dmesg and the
    faulting code bytes; once with no window grabbed before), which lost every figure of
    the run. The console itself opens one window per process.
    """
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-console-runs-") as name:
        for i, (topology, vehicles, stops) in enumerate(runs):
            out = Path(name) / f"{i}.json"
            child = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--one",
                *("--sizes", f"{vehicles}:{stops}", "--topology", topology),
                *("--seconds", str(args.seconds), "--idle", str(args.idle)),
                *("--settle", str(args.settle), "--speed", str(args.speed)),
                *("--seed", str(args.seed), "--json", str(out)),
            ]
            if args.db:
                child += ["--db", args.db]
            if args.why:
                child.append("--why")
            if args.profile:
                child += ["--profile", str(args.profile)]
            if args.screenshot is not None and i == len(runs) - 1:
                child += ["--screenshot", str(args.screenshot)]
            done = subprocess.run(child, check=False)
            if done.returncode != 0 or not out.exists():
                failed.append(f"{topology} {vehicles}:{stops} (exit {done.returncode})")
                continue
            results += json.loads(out.read_text(encoding="utf-8"))
    report(results)
    written(args, results)
    if failed:
        print("runs that failed: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)
    return results


if __name__ == "__main__":
    main()
