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
    with qtbot.waitSignal(panel.feed.loaded, timeout=30000):
        assert panel.feed.refresh()
    assert panel.snapshot is not None and len(panel.snapshot.routes) == 12
    assert "2.2 km driven" in panel.costs.text()  # only V01 moved
    assert panel.select_scope(Scope(ScopeKind.ROUTE, "V01"))
    assert "2.2 km driven" in panel.costs.text() and "0.6 kg CO2e" in panel.costs.text()
    assert panel.select_scope(Scope(ScopeKind.ROUTE, "V02"))
    assert "0.0 km driven" in panel.costs.text()
    board = window.routes_panel.boards["V01"]
    assert "2.2 km driven" in board.header.text() and "0.6 kg CO2e" in board.header.text()
