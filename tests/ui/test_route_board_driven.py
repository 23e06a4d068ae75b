"""The route boards' "km driven" after simulated driving, as the demo shows it.

The demo opens at 09:30 on a day whose shifts began at 07:00. The simulator used to report the
morning's deliveries but not the morning's track, so the position history began at 09:30 and a
van with a dozen stops done read "0.0 km driven". Here the demo's simulator drives the fleet
through the console's own decoder into the database, and the boards must count the morning.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day, local
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.core import EventReport, PositionReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.simulator.from_db import load_simulated_fleet
from dispatcher.simulator.runner import FleetSimulator
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, Decoder, default_adapters
from dispatcher_ui.kpi.feed import LOAD_COST_FACTOR, ROUTES_REFRESH_S, KpiFeed
from dispatcher_ui.kpi.panel import KpiPanel
from dispatcher_ui.main_window import MainWindow

DRIVEN = re.compile(r"([\d.]+) km driven")


def drive(core: Core, clock: FakeClock, minutes: int) -> set[str]:
    """The demo's simulator from now on for ``minutes``, stored the way the recorder stores
    it; the vehicles that had delivered something before the start."""
    vehicles, scripts = load_simulated_fleet(core.db, 7, TZ_NAME, clock.now())
    with core.db.session() as session:
        decoder = Decoder(default_adapters(DeviceBindings(fleet_repo.device_bindings(session))))
    fixes: list[PositionReport] = []
    events: list[EventReport] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        result = decoder.decode(topic, payload, clock.now())
        assert isinstance(result, Accepted), result
        if isinstance(result.report, PositionReport):
            fixes.append(result.report)
        elif isinstance(result.report, EventReport):
            events.append(result.report)

    start = clock.now()
    simulator = FleetSimulator(vehicles, scripts, publish, clock)
    for _ in range(minutes * 2):
        simulator.step(clock.now())
        clock.advance(30)
    sink = SqlTelemetrySink(core.db)
    sink.write_positions(fixes)
    sink.write_events(events)
    return {
        vid
        for vid, script in scripts.items()
        if any(e.kind == "delivered" and e.ts <= start for e in script.events)
    }


@pytest.fixture
def core(sqlite_url: str) -> Any:
    core = Core(
        Settings(database_url=sqlite_url, sections={"fleet": {"timezone": TZ_NAME}}),
        clock=FakeClock(local(9, 30)),
    )
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    yield core
    core.close()


def test_the_boards_count_the_km_driven_since_the_shift_began(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    clock = core.clock
    assert isinstance(clock, FakeClock)
    busy = drive(core, clock, minutes=10)
    assert len(busy) >= 3
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    panel = window.docks["kpis"].widget()
    assert isinstance(panel, KpiPanel) and panel.feed is not None
    feed = panel.feed  # the first load, at start, and its routes' job
    qtbot.waitUntil(lambda: not feed.busy and not feed.routes_busy, timeout=30000)
    feed.routes_every = 0.0  # due at this refresh
    with qtbot.waitSignal(feed.routes_loaded, timeout=30000):
        assert feed.refresh()
    for vid in sorted(busy):
        header = window.routes_panel.boards[vid].header.text()
        found = DRIVEN.search(header)
        assert found is not None, header
        assert float(found.group(1)) > 1.0, (vid, header)  # stops done since 07:00: km too


def test_a_small_days_figures_follow_the_vans_at_every_load(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """The routes' figures are re-read as often as they are cheap (a fixed minute kept the
    demo's first "0.0 km driven" on the boards for the whole first minute)."""
    clock = core.clock
    assert isinstance(clock, FakeClock)
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    feed = KpiFeed(window, interval_s=0.05)
    with qtbot.waitSignal(feed.routes_loaded, timeout=30000):  # after the figures, own job
        assert feed.refresh()
    assert feed.latest is not None
    before = {r.day.vehicle_id: r.day.actual.distance_km for r in feed.latest.routes}
    assert feed.routes_every < ROUTES_REFRESH_S  # twelve vans: cheap to read again
    busy = drive(core, clock, minutes=20)
    qtbot.wait(int(feed.routes_every * 1000) + 50)
    with qtbot.waitSignal(feed.routes_loaded, timeout=30000):
        assert feed.refresh()
    after = {r.day.vehicle_id: r.day.actual.distance_km for r in feed.latest.routes}
    assert all(after[vid] > before[vid] for vid in busy), (before, after)


def test_a_slow_load_of_the_figures_spaces_out_the_next_ones(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """A load that takes long (a 500-vehicle day's) waits LOAD_COST_FACTOR times as long
    before the next: its worker's Python takes the interpreter lock from the GUI thread."""
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    feed = KpiFeed(window, interval_s=0.05)
    feed.views["slow"] = lambda _snapshot: time.sleep(0.5)  # runs inside the load
    with qtbot.waitSignal(feed.loaded, timeout=30000):
        assert feed.refresh()
    assert feed.every >= LOAD_COST_FACTOR * 0.5
    qtbot.waitUntil(lambda: not feed.routes_busy, timeout=30000)  # its routes' own job
    feed.tick()  # many times the configured interval later, but not due: the last was slow
    assert not feed.busy
