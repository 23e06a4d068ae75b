"""Cost and CO₂e in the KPI dock and on the route boards, from a real load of the day.

V01 (a diesel ``van``) drives 2 × 0.01° of latitude = 2 × 1,111.9508 m = 2.2239 km:
0.09 l/km × 2.2239 km = 0.20015 l; × 3.19747 kg/l = 0.640 kg CO₂e.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.core import PositionReport
from dispatcher.model.kpi import Scope, ScopeKind
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher_ui.kpi.panel import KpiPanel
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: Any, sqlite_url: str, tmp_path: Path) -> Any:
    core = Core(Settings(database_url=sqlite_url), clock=FakeClock(utc(11)))
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    SqlTelemetrySink(core.db).write_positions(
        [PositionReport("V01", utc(9, m), 52.50 + 0.001 * m, 13.40) for m in (0, 10, 20)]
    )
    win = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    wait_for_routes(qtbot, win)
    yield win
    core.close()


def test_the_dock_and_the_board_show_distance_cost_and_co2e(qtbot: Any, window: Any) -> None:
    panel = window.docks["kpis"].widget()
    assert isinstance(panel, KpiPanel) and panel.feed is not None
    qtbot.waitUntil(lambda: not panel.feed.busy and not panel.feed.routes_busy, timeout=30000)
    panel.feed.routes_every = 0.0  # due at this refresh (the start's may predate the fixes)
    # The figures first, then the routes' cost and CO2e in their own job.
    with qtbot.waitSignals([panel.feed.loaded, panel.feed.routes_loaded], timeout=30000):
        assert panel.feed.refresh()
    assert panel.snapshot is not None and len(panel.snapshot.routes) == 12
    assert "2.2 km driven" in panel.costs.text()  # only V01 moved
    assert panel.select_scope(Scope(ScopeKind.ROUTE, "V01"))
    assert "2.2 km driven" in panel.costs.text() and "0.6 kg CO2e" in panel.costs.text()
    assert panel.select_scope(Scope(ScopeKind.ROUTE, "V02"))
    assert "0.0 km driven" in panel.costs.text()
    board = window.routes_panel.boards["V01"]
    assert "2.2 km driven" in board.header.text() and "0.6 kg CO2e" in board.header.text()


def test_the_figures_show_before_the_routes_cost_is_computed(
    qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routes' cost and CO2e read the day's position history (13.7 s at 500 driving
    vehicles, issue 17): their own job, after the other figures are on screen."""
    import threading

    from dispatcher.kpi import rollup
    from dispatcher.kpi import snapshot as snapshot_module

    gate = threading.Event()
    route_days = rollup.route_days

    def held(*args: Any, **kwargs: Any) -> Any:
        assert gate.wait(30), "the test never let the routes go"
        return route_days(*args, **kwargs)

    monkeypatch.setattr(snapshot_module, "route_days", held)
    panel = window.docks["kpis"].widget()
    feed = panel.feed
    qtbot.waitUntil(lambda: not feed.busy and not feed.routes_busy, timeout=30000)
    feed.routes_every = 0.0
    try:
        with qtbot.waitSignal(feed.loaded, timeout=30000):
            assert feed.refresh()
        # The figures are shown; the routes' job is still held.
        assert feed.routes_busy and panel.snapshot is not None and not panel.snapshot.routes
        assert "km driven" not in window.routes_panel.boards["V01"].header.text()
        with qtbot.waitSignal(feed.loaded, timeout=30000):  # the next loads do not wait
            assert feed.refresh()
        assert feed.routes_busy
        with qtbot.waitSignal(feed.routes_loaded, timeout=30000):
            gate.set()
    finally:
        gate.set()
    assert not feed.routes_busy and len(panel.snapshot.routes) == 12
    assert "2.2 km driven" in panel.costs.text()
    assert "2.2 km driven" in window.routes_panel.boards["V01"].header.text()
