"""A fleet set to ``units = "mi"`` and ``locale = "en_US"`` reads miles, mph and a 12-hour
clock on the real window's screens (route boards, route list, fleet tab, KPI dock, map
tooltips, day report); the demo without those settings keeps km, km/h and 24 hours."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day, local
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QWidget
from routes_wait import wait_for_routes
from sqlalchemy import select

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.fleet.state import FleetChanged
from dispatcher.model.core import PositionReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import Stop
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher_ui.fleet_model import FleetColumn
from dispatcher_ui.kpi.panel import KpiPanel
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board_model import Column
from dispatcher_ui.routes.panel import RoutesPanel
from dispatcher_ui.routes_model import Column as ListColumn

US_FLEET = {"timezone": TZ_NAME, "units": "mi", "locale": "en_US"}
METRES_PER_MILE = 1609.344
#: ``9:05 AM–12:00 PM``: the 12-hour clock of en_US, minutes always two digits.
US_WINDOW = re.compile(r"\d{1,2}:\d\d [AP]M–\d{1,2}:\d\d [AP]M")
DEMO_WINDOW = re.compile(r"\d\d:\d\d–\d\d:\d\d")


def open_window(qtbot: Any, sqlite_url: str, tmp_path: Path, fleet: dict[str, str]) -> MainWindow:
    core = Core(
        Settings(database_url=sqlite_url, sections={"fleet": dict(fleet)}),
        clock=FakeClock(local(11, 0)),
    )
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    return window


@pytest.fixture
def us_window(qtbot: Any, sqlite_url: str, tmp_path: Path) -> Iterator[MainWindow]:
    window = open_window(qtbot, sqlite_url, tmp_path, US_FLEET)
    yield window
    window.core.close()


@pytest.fixture
def demo_window(qtbot: Any, sqlite_url: str, tmp_path: Path) -> Iterator[MainWindow]:
    window = open_window(qtbot, sqlite_url, tmp_path, {"timezone": TZ_NAME})
    yield window
    window.core.close()


def routes_panel(window: MainWindow) -> RoutesPanel:
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    return panel


def drive_van(window: MainWindow, speed_kmh: float) -> None:
    fleet = window.fleet_model._fleet
    fix = PositionReport("V01", local(10, 59), 52.5, 13.4, speed_kmh=speed_kmh, heading_deg=0.0)
    changed, _ = fleet.apply_positions([(fix, False)], local(11, 0))
    window.core.bus.publish(FleetChanged(frozenset(changed), frozenset(changed)))


def fleet_cell(window: MainWindow, column: FleetColumn) -> str:
    model = window.fleet_view.model()
    rows = [r for r in range(model.rowCount()) if "V01" in model.index(r, 0).data()]
    return str(model.index(rows[0], column).data()) if rows else ""


def load_kpis(qtbot: Any, window: MainWindow) -> str:
    panel = window.docks["kpis"].widget()
    assert isinstance(panel, KpiPanel)
    feed = panel.feed
    assert feed is not None
    with qtbot.waitSignal(feed.loaded, timeout=20000):
        feed.refresh()
    return str(panel.status.text())


def board_windows(window: MainWindow, vehicle_id: str) -> list[str]:
    model = routes_panel(window).boards[vehicle_id].model
    texts = [model.index(r, Column.WINDOW).data() for r in range(model.rowCount())]
    return [t for t in texts if t and t != "any time"]


def test_a_fleet_in_miles_reads_miles_mph_and_a_12_hour_clock(
    qtbot: Any, us_window: MainWindow
) -> None:
    panel = routes_panel(us_window)
    ev = panel.controller.route_evaluation("V01")
    assert ev is not None
    header = panel.boards["V01"].header.text()
    assert f" · {ev.distance / METRES_PER_MILE:.1f} mi · " in header and " km" not in header
    windows = board_windows(us_window, "V01")
    assert windows and all(US_WINDOW.fullmatch(t) for t in windows), windows
    departures = [
        b.header.text() for b in panel.boards.values() if "leaves" in b.header.text()
    ]  # the vans still at the depot say when they leave, on the fleet's clock
    assert departures and all(
        re.search(r"leaves \d{1,2}:\d{2}\u202f?\s?[AP]M", h) for h in departures
    ), departures

    model = us_window.routes_model
    vans = model.index(0, 0)
    listed = [model.index(r, ListColumn.WINDOW, vans).data() for r in range(model.rowCount(vans))]
    listed = [t for t in listed if t != "any time"]
    assert listed and all(US_WINDOW.fullmatch(t) for t in listed), listed

    assert (
        us_window.fleet_model.headerData(
            FleetColumn.SPEED, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
        )
        == "mph"
    )
    drive_van(us_window, 48.28)  # 30 mph
    qtbot.waitUntil(lambda: fleet_cell(us_window, FleetColumn.SPEED) == "30")
    assert fleet_cell(us_window, FleetColumn.LAST_SEEN) == "11:00:00 AM"  # when it arrived

    status = load_kpis(qtbot, us_window)
    assert "as of 11:00:00 AM" in status, status


def test_the_demo_keeps_km_and_a_24_hour_clock(qtbot: Any, demo_window: MainWindow) -> None:
    panel = routes_panel(demo_window)
    ev = panel.controller.route_evaluation("V01")
    assert ev is not None
    assert f" · {ev.distance / 1000:.1f} km · " in panel.boards["V01"].header.text()
    windows = board_windows(demo_window, "V01")
    assert windows and all(DEMO_WINDOW.fullmatch(t) for t in windows), windows
    assert (
        demo_window.fleet_model.headerData(
            FleetColumn.SPEED, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
        )
        == "km/h"
    )
    drive_van(demo_window, 48.28)
    qtbot.waitUntil(lambda: fleet_cell(demo_window, FleetColumn.SPEED) == "48")
    assert fleet_cell(demo_window, FleetColumn.LAST_SEEN) == "11:00:00"
    assert load_kpis(qtbot, demo_window).endswith(" · as of 11:00:00")


def choose_folder(path: Path) -> Callable[[QWidget], None]:
    def fill(dialog: QWidget) -> None:
        assert isinstance(dialog, QFileDialog)
        dialog.selectFile(str(path))
        dialog.accept()

    return fill


def test_the_day_report_map_gives_each_van_its_miles_and_12_hour_times(
    qtbot: Any, us_window: MainWindow, tmp_path: Path, answer_modal: Any
) -> None:
    # V01 drives 30 fixes due north, 0.001 degrees (111.2 m) apart: 3.2 km, 2.0 mi, and
    # reaches its first stop at 9:41.
    with us_window.core.db.session() as session:
        first = session.scalars(select(Stop).where(Stop.sequence == 1).limit(1)).one()
        first.actual_arrival = local(9, 41)
        first.status = "done"
    SqlTelemetrySink(us_window.core.db).write_positions(
        [
            PositionReport("V01", local(9, 0) + timedelta(minutes=m), 52.5 + m / 1000, 13.4)
            for m in range(30)
        ]
    )
    folder = tmp_path / "report"
    folder.mkdir()
    answer_modal(choose_folder(folder))
    export = us_window.shortcuts.find("window", "Export day report")
    assert export is not None and export.action is not None
    export.action.trigger()
    qtbot.waitUntil(lambda: hasattr(us_window, "last_day_report"), timeout=30000)
    _, map_path = us_window.last_day_report
    page = map_path.read_text()
    assert "Van 01 \\u00b7 2.0 mi" in page  # the layer's name, as JSON
    assert "actual 9:41 AM" in page


def test_the_map_tooltip_gives_the_speed_in_mph_and_a_12_hour_clock(
    qtbot: Any, us_window: MainWindow
) -> None:
    us_window.resize(1200, 800)
    us_window.show()
    controller = us_window.map_controller
    qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    fix = PositionReport("V01", local(10, 59), 52.5, 13.4, speed_kmh=48.28, heading_deg=45.0)
    changed, state_changed = controller.fleet.apply_positions([(fix, False)], local(11, 0))
    us_window.core.bus.publish(FleetChanged(frozenset(changed), frozenset(state_changed)))

    def tip() -> str:
        box: list[Any] = []
        source = (
            "DispatcherMap.showTip('V01'); "
            "(document.querySelector('.dm-tip-body') || {innerText: ''}).innerText"
        )
        controller.view.page().runJavaScript(source, 0, box.append)
        qtbot.waitUntil(lambda: bool(box), timeout=10000)
        return str(box[0])

    def shown() -> bool:
        controller.tick()
        return "Speed: 30 mph" in tip()

    qtbot.waitUntil(shown, timeout=15000)
    assert re.search(r"last seen \d{1,2}:\d\d:\d\d [AP]M", tip())
    assert not controller.view.map_page.errors


def test_the_day_picker_shows_the_locales_date_order(us_window: MainWindow) -> None:
    shown = us_window.day_bar.date_edit.text()
    assert shown == f"{DAY:%a} {DAY.month}/{DAY.day}/{DAY.year}", shown  # four-digit year


def test_the_demos_day_picker_is_unchanged(demo_window: MainWindow) -> None:
    assert demo_window.day_bar.date_edit.text() == DAY.strftime("%a %Y-%m-%d")
