"""Route boards fit: as wide as their content, never wider than the view, the name in view.

Real main window at the sizes control rooms have (1366×768, 1920×1080) over the demo day, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu
from routes_wait import wait_for_routes

from dispatcher.cli import window_size
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board import SECONDARY
from dispatcher_ui.routes.board_model import Column
from dispatcher_ui.routes.panel import RoutesPanel

DAY = date(2026, 11, 20)


@pytest.fixture
def core(db_url: str) -> Iterator[Core]:
    """The demo day in a fresh database of each kind."""
    demo = Core(Settings(database_url=db_url))
    try:
        with demo.db.session() as session:
            fleet_repo.save_scenario(session, demo_scenario(DAY))
        yield demo
    finally:
        demo.close()


def open_at(qtbot: Any, core: Core, ini: Path, size: tuple[int, int]) -> RoutesPanel:
    window = MainWindow(core, QSettings(str(ini), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    return panel


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_every_column_of_a_board_is_readable(
    qtbot: Any, core: Core, tmp_path: Path, size: tuple[int, int]
) -> None:
    panel = open_at(qtbot, core, tmp_path / "ui.ini", size)
    board = panel.boards["V04"]
    view = panel.scroll_area.viewport().width()
    qtbot.waitUntil(lambda: 0 < board.width() <= view)
    t, m = board.table, board.table.fontMetrics()
    for row in range(board.model.rowCount()):
        for col in (Column.WINDOW, Column.ETA, Column.SLACK, Column.STATUS, Column.CUSTOMER):
            text = str(board.model.index(row, col).data() or "")
            assert m.horizontalAdvance(text) + 8 <= t.columnWidth(col), (col, text)
    assert t.horizontalScrollBar().maximum() == 0  # nothing of the board is out of sight


def test_the_vehicle_name_stays_in_view_when_its_board_is_cut_at_the_left(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    panel = open_at(qtbot, core, tmp_path / "ui.ini", (1366, 768))
    board = panel.boards["V05"]
    bar = panel.scroll_area.horizontalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > board.x() + 150)
    bar.setValue(board.x() + 150)  # the board's left part (where its name is) scrolled away
    visible_left = board.header.mapTo(board, board.header.contentsRect().topLeft()).x()
    assert visible_left >= 150 and "Van 05" in board.header.text()
    panel.window_.selection.select_stop(int(board.model.stop_id(0)), "V05", source="map")
    assert bar.value() <= board.x() <= bar.value() + panel.scroll_area.viewport().width()
    assert board.x() + board.width() <= bar.value() + panel.scroll_area.viewport().width()


def test_compact_mode_from_the_view_menu_drops_columns_and_is_kept(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    ini = tmp_path / "ui.ini"
    panel = open_at(qtbot, core, ini, (1366, 768))
    view_menu = next(a.menu() for a in panel.window_.menuBar().actions() if a.text() == "&View")
    assert isinstance(view_menu, QMenu)
    action = next(a for a in view_menu.actions() if a.text() == "&Compact route boards")
    wide = panel.boards["V04"].width()
    action.trigger()
    board = panel.boards["V04"]
    assert all(board.table.isColumnHidden(c) for c in SECONDARY)
    assert not board.table.isColumnHidden(Column.ETA) and board.width() < wide
    visible = [b for b in panel.boards.values() if b.isVisible()]
    assert visible[0].width() + visible[1].width() <= panel.scroll_area.viewport().width()
    panel.window_.close()
    again = open_at(qtbot, core, ini, (1366, 768))
    assert again.compact and again.compact_action is not None
    assert again.compact_action.isChecked()
    assert again.boards["V04"].table.isColumnHidden(Column.ADDRESS)


def test_window_size_option_parses_and_refuses() -> None:
    assert window_size("1366x768") == (1366, 768)
    for bad in ("1366", "axb", "10x10", "1366x768x2"):
        with pytest.raises(ValueError):
            window_size(bad)


def test_a_board_shows_a_useful_number_of_rows_on_a_768_pixel_screen(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    """The tabbed bottom docks (exceptions, messages, KPIs) must not take the boards' height."""
    panel = open_at(qtbot, core, tmp_path / "ui.ini", (1366, 768))
    table = panel.boards["V04"].table
    qtbot.waitUntil(lambda: table.viewport().height() > 0)
    assert table.viewport().height() >= 11 * table.verticalHeader().defaultSectionSize()
