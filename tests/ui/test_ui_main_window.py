"""The main window shows the demo routes, keeps its layout across restarts, and the headless
screenshot mode writes a PNG."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_zone import demo_day
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes_model import Role, RoutesModel


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    yield c
    c.close()


def ini(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


def test_routes_model_passes_the_model_tester(qtmodeltester, core: Core) -> None:
    model = RoutesModel()
    model.set_routes(core.load_routes())
    qtmodeltester.check(model)
    assert model.rowCount() == 12
    first = model.index(0, 0)
    assert model.rowCount(first) == len(core.load_routes()[0].stops)
    assert model.index(0, 0, first).data(Role.VEHICLE_ID) == "V01"


def test_main_window_lists_the_demo_routes_and_stops(qtbot, core: Core, tmp_path: Path) -> None:
    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    assert window.routes_model.route_count() == 12
    assert window.routes_model.stop_count() == 250
    assert set(window.docks) == {
        "map",
        "fleet",
        "routes",
        "exceptions",
        "messages",
        "kpis",
        "timeline",
        "history",
        "devices",
    }
    assert "250 stops" in window.stats_label.text()
    assert "sqlite" in window.db_label.text()


def test_the_rooms_find_each_other_through_the_window_registry(
    qtbot, core: Core, tmp_path: Path
) -> None:
    """Each dock registers its room; the others find it by class or by the leaf base class
    they name (no dock imports another's panel or the window: ui/dispatcher_ui/rooms.py)."""
    from dispatcher_ui.exceptions.panel import ExceptionsPanel
    from dispatcher_ui.history.replay_bar import ReplayBar
    from dispatcher_ui.map.controller import MapController
    from dispatcher_ui.map.fix_position import PositionFixer
    from dispatcher_ui.messages.feedback import SendFeedback
    from dispatcher_ui.messages.panel import MessagesPanel
    from dispatcher_ui.rooms import RoomMissing
    from dispatcher_ui.routes.host import BoardsHost
    from dispatcher_ui.routes.panel import RoutesPanel

    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    panel = window.room(RoutesPanel)
    assert panel is window.routes_panel and window.rooms.find(BoardsHost) is panel
    assert window.room(MapController) is window.map_controller
    assert window.room(PositionFixer) is window.position_fixer
    assert window.room(ExceptionsPanel) is window.exceptions_panel
    assert window.room(ReplayBar) is window.replay_bar
    assert window.rooms.find(SendFeedback) is window.rooms.find(MessagesPanel)

    class NotARoom:
        pass

    with pytest.raises(RoomMissing, match="no NotARoom room"):
        window.room(NotARoom)


def test_filter_finds_a_stop_by_customer(qtbot, core: Core, tmp_path: Path) -> None:
    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    name = core.load_routes()[3].stops[2].customer_name
    window.route_filter.setText(name)
    matches = [
        board.model.stop_id(r)
        for board in window.routes_panel.boards.values()
        for r in range(board.model.rowCount())
        if not board.table.isRowHidden(r)
    ]
    assert matches and len(matches) < 250


def test_layout_is_restored_on_the_next_start(qtbot, core: Core, tmp_path: Path) -> None:
    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.docks["kpis"].hide()
    window.save_layout()
    again = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(again)
    wait_for_routes(qtbot, again)
    assert again.docks["kpis"].isHidden()
    assert not again.docks["routes"].isHidden()


def test_file_import_runs_in_the_background_and_reloads(qtbot, core: Core, tmp_path: Path) -> None:
    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    csv = tmp_path / "more.csv"
    csv.write_text("order_id,lat,lon,customer_name\nNEW-1,52.5,13.4,Zoë\nNEW-2,95,13.4,Bad\n")
    window.run_import(csv)
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    assert window.routes_model.stop_count() == 251
    report = window.last_import_report
    assert report is not None and report.inserted == 1 and len(report.errors) == 1


@pytest.mark.slow
def test_demo_screenshot_command_writes_a_png(tmp_path: Path, isolated_user_dirs: Path) -> None:
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [
            sys.executable,
            "main.py",
            "demo",
            "--no-simulator",
            "--screenshot",
            str(shot),
            "--quit-after",
            "2",
            "--size",
            "1366x768",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (int.from_bytes(shot.read_bytes()[i : i + 4], "big") for i in (16, 20))
    assert (width, height) == (1366, 768)  # --size: the window at a control room's screen size
