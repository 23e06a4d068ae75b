"""The live map under load: 1,000 / 5,000 / 10,000 vehicles, each moving at 1 Hz, offscreen.

One run per fleet size, in one process, on the real page (folium + Leaflet + our bridge in
QtWebEngine, canvas renderer) fed by the real :class:`~dispatcher.maps.feed.MapFeed`:

* a 200 ms UI tick (the console's) applies this tick's fixes to a :class:`FleetState` (each
  vehicle reports once a second, so a fifth of the fleet per tick), builds the batch and hands
  it to the page — at most one batch in flight; a slow page coalesces, never queues;
* a 10 ms ``PreciseTimer`` on the same GUI thread records how late it fires: what a
  dispatcher feels as a sluggish window (p50 / p99 / max);
* per batch: Python's share (fleet update + diff + JSON), the page's share (``apply``) and the
  bridge round trip (send → page done → callback back on the GUI thread);
* visible updates per second = batches the page applied per second.

* Python's garbage collector: how many collections ran and their longest pause. A full
  (generation 2) collection walks every object the process holds — 10,000 vehicles' state,
  Qt wrappers, folium — on the GUI thread. ``--gc-freeze`` measures each size twice, without
  and with :func:`gc.freeze` called after start-up (the page loaded, the fleet built), which
  moves everything alive then out of the collector's sight.

Targets: 5,000 vehicles p99 lateness < 50 ms; 10,000 vehicles >= 1 visible update/s and p99
< 100 ms. The machine is shared, so every figure is from the same run and the baseline row
(``0`` vehicles: the page idle, the timers running) says what the machine itself costs.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/map.py [--sizes 1000,5000,10000
--seconds 8 --zoom 12 --gc-freeze both]``
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from dispatcher.fleet.state import FleetState
from dispatcher.maps.feed import MapFeed
from dispatcher.model.core import PositionReport
from dispatcher_ui.map import web  # noqa: F401  (registers the scheme before the QApplication)
from dispatcher_ui.map.page import PageOptions
from dispatcher_ui.map.view import MapView

CENTER = (52.52, 13.405)
TICK_MS = 200
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Fleet:
    """N vehicles driving straight lines at ~30 km/h inside a 30 x 30 km box, bouncing back."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.ids = [f"V{i:05d}" for i in range(n)]
        self.pos = [
            [CENTER[0] + rnd.uniform(-0.13, 0.13), CENTER[1] + rnd.uniform(-0.22, 0.22)]
            for _ in range(n)
        ]
        self.heading = [rnd.uniform(0, 360) for _ in range(n)]

    def fixes(self, part: int, parts: int, t: datetime) -> list[tuple[PositionReport, bool]]:
        out = []
        step = 8.3 / 111_000  # 30 km/h for one second, in degrees of latitude
        for i in range(part, len(self.ids), parts):
            h = math.radians(self.heading[i])
            p = self.pos[i]
            p[0] += math.cos(h) * step
            p[1] += math.sin(h) * step * 1.6
            if abs(p[0] - CENTER[0]) > 0.13 or abs(p[1] - CENTER[1]) > 0.22:
                self.heading[i] = (self.heading[i] + 180) % 360
            out.append(
                (
                    PositionReport(
                        self.ids[i], t, p[0], p[1], speed_kmh=30, heading_deg=self.heading[i]
                    ),
                    False,
                )
            )
        return out


class GcPauses:
    """Collections and their pauses (``gc.callbacks``) while :attr:`measuring` is on."""

    def __init__(self) -> None:
        self.measuring = False
        self.pauses: list[float] = []
        self.full = 0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self.measuring:
            self.pauses.append((time.perf_counter() - self._start) * 1000)
            self.full += info.get("generation") == 2

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class Load:
    """The UI tick (fleet -> feed -> page) and the 10 ms lateness probe, on the GUI thread."""

    def __init__(self, view: MapView, n: int, *, every_tick: bool = False) -> None:
        self.view = view
        self.every_tick = every_tick
        self.n = n
        self.fleet_state = FleetState()
        self.feed = MapFeed(self.fleet_state, UTC)
        self.fleet = Fleet(n)
        self.t = T0
        self.ticks = 0
        self.measuring = False
        self.python_ms: list[float] = []
        self.python_cpu_ms: list[float] = []
        self.lateness: list[float] = []
        self.last = time.perf_counter()
        self.timers = [self._timer(TICK_MS, self.tick), self._timer(10, self.probe)]

    def _timer(self, ms: int, slot: object) -> QTimer:
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(slot)
        timer.start(ms)
        return timer

    def tick(self) -> None:
        """Simulated ingest (not the map's cost), then the map's share: diff, JSON, send."""
        self.t += timedelta(milliseconds=TICK_MS)
        parts = 1000 // TICK_MS
        part = self.ticks % parts
        self.ticks += 1
        if self.n:
            fixes = self.fleet.fixes(part, parts, self.t)
            changed, _ = self.fleet_state.apply_positions(fixes, self.t)
            self.feed.mark(changed)
        t0, c0 = time.perf_counter(), time.thread_time()
        self.feed.collect(self.t)
        if self.view.can_send(0 if self.every_tick else self.n):
            batch = self.feed.take()
            if batch:
                self.view.send(batch)
        if self.measuring:
            self.python_ms.append((time.perf_counter() - t0) * 1000)
            self.python_cpu_ms.append((time.thread_time() - c0) * 1000)

    def probe(self) -> None:
        now = time.perf_counter()
        if self.measuring:
            self.lateness.append(max(0.0, (now - self.last) * 1000 - 10))
        self.last = now

    def stop(self) -> None:
        for timer in self.timers:
            timer.stop()


def run(n: int, seconds: float, zoom: int, every_tick: bool, freeze: bool) -> dict[str, float]:
    view = MapView()
    view.resize(1200, 800)
    view.show()
    view.load_page(PageOptions(center=CENTER, zoom=zoom, layers=[], auto_fit=False))
    deadline = time.monotonic() + 60
    while not view.ready and time.monotonic() < deadline:
        wait(50)
    if not view.ready:
        raise SystemExit("the map page did not load")
    load = Load(view, n, every_tick=every_tick)
    if freeze:  # what the console would do once its window is up
        gc.collect()
        gc.freeze()
    wait(2500)  # warm-up: the first full batch, the page's JIT, the canvas
    view.round_trips.clear()
    view.page_ms.clear()
    pauses = GcPauses()
    pauses.measuring = load.measuring = True
    load.last = time.perf_counter()
    wait(int(seconds * 1000))
    pauses.measuring = load.measuring = False
    pauses.close()
    load.stop()
    trips, page = list(view.round_trips), list(view.page_ms)
    row = {
        "vehicles": n,
        "frozen": float(freeze),
        "gc_n": len(pauses.pauses),
        "gc_full": pauses.full,
        "gc_max": max(pauses.pauses, default=0.0),
        "updates_per_s": len(trips) / seconds,
        "rt_p50": pct(trips, 0.5),
        "rt_p99": pct(trips, 0.99),
        "page_p50": pct(page, 0.5),
        "page_p99": pct(page, 0.99),
        "py_p50": pct(load.python_ms, 0.5),
        "py_p99": pct(load.python_ms, 0.99),
        "cpu_p50": pct(load.python_cpu_ms, 0.5),
        "cpu_p99": pct(load.python_cpu_ms, 0.99),
        "late_p50": pct(load.lateness, 0.5),
        "late_p99": pct(load.lateness, 0.99),
        "late_max": max(load.lateness) if load.lateness else math.nan,
    }
    view.close()
    view.deleteLater()
    del load
    if freeze:
        gc.unfreeze()  # the next run starts as the console would: nothing frozen
    wait(200)
    gc.collect()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,5000,10000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--zoom", type=int, default=12, help="12 draws every vehicle; <12 clusters")
    parser.add_argument(
        "--every-tick",
        action="store_true",
        help="send a batch every tick whatever the fleet size (no frame budget): the baseline",
    )
    parser.add_argument(
        "--gc-freeze",
        choices=("off", "on", "both"),
        default="both",
        help="call gc.freeze() after start-up: off, on, or both (each size without, then with)",
    )
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert app is not None
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.gc_freeze]
    rows = [
        run(int(n), args.seconds, args.zoom, args.every_tick, freeze)
        for n in args.sizes.split(",")
        for freeze in modes
    ]
    head = (
        f"{'vehicles':>8} {'frozen':>6} {'upd/s':>6} {'rt p50':>7} {'rt p99':>7} {'page p50':>8} "
        f"{'page p99':>8} {'map p50':>7} {'map p99':>7} {'cpu p50':>7} {'cpu p99':>7} "
        f"{'late p50':>8} {'late p99':>8} {'max':>7} {'gc n':>5} {'full':>4} {'gc max':>6}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(
        f"map bench, zoom {args.zoom}, {args.seconds:g} s per size, "
        f"{'a batch every tick' if args.every_tick else 'frame budget by fleet size'}, "
        "all times ms; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs. rt = bridge round trip, page = "
        "apply() in the page, map = diff+JSON+send on the GUI thread (wall, cpu), "
        "late = 10 ms timer lateness, gc = collections while measuring (full = generation 2) "
        "and the longest pause; frozen = gc.freeze() after start-up"
    )
    print(head)
    for r in rows:
        print(
            f"{r['vehicles']:>8.0f} {'yes' if r['frozen'] else 'no':>6} "
            f"{r['updates_per_s']:>6.1f} {r['rt_p50']:>7.1f} "
            f"{r['rt_p99']:>7.1f} {r['page_p50']:>8.1f} {r['page_p99']:>8.1f} "
            f"{r['py_p50']:>7.1f} {r['py_p99']:>7.1f} {r['cpu_p50']:>7.1f} {r['cpu_p99']:>7.1f} "
            f"{r['late_p50']:>8.1f} "
            f"{r['late_p99']:>8.1f} {r['late_max']:>7.1f} {r['gc_n']:>5.0f} {r['gc_full']:>4.0f} "
            f"{r['gc_max']:>6.1f}"
        )
    print("; ".join(verdict(rows)))
    return 0


def verdict(rows: list[dict[str, float]]) -> list[str]:
    """The targets, per gc mode, and what freezing changed at each size."""
    out = []
    for r in rows:
        mode = " (gc frozen)" if r["frozen"] else ""
        if r["vehicles"] == 5000:
            out.append(f"5,000{mode}: p99 lateness {r['late_p99']:.0f} ms (target < 50)")
        if r["vehicles"] == 10000:
            out.append(
                f"10,000{mode}: {r['updates_per_s']:.1f} updates/s (target >= 1), "
                f"p99 lateness {r['late_p99']:.0f} ms (target < 100)"
            )
    by_size: dict[float, dict[float, float]] = {}
    for r in rows:
        by_size.setdefault(r["vehicles"], {})[r["frozen"]] = r["late_p99"]
    for n, modes in by_size.items():
        if len(modes) == 2 and n:
            out.append(
                f"gc.freeze at {n:,.0f}: p99 lateness {modes[0.0]:.0f} -> {modes[1.0]:.0f} ms"
            )
    return out


if __name__ == "__main__":
    sys.exit(main())
