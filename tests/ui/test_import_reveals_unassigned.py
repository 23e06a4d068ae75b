"""File > Import orders through the real window (issue 14): the imported order used to land on
an Unassigned board scrolled out of view. Now the board scrolls into view with the new order
selected and visible, wherever the dispatcher had scrolled the boards to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.importing.service import import_orders
from dispatcher.persistence import fleet_repo
from dispatcher.planning.dayplan import UNASSIGNED
from dispatcher_ui.main_window import MainWindow

CSV_HEADER = "order_id,lat,lon,customer_name\n"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(Settings(database_url=f"sqlite:///{tmp_path / 'i.sqlite3'}"), clock=FakeClock(utc(7)))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY, n_orders=60, n_vehicles=8))
    old = tmp_path / "old.csv"
    old.write_text(CSV_HEADER + "OLD-1,52.52,13.40,Already waiting\n")
    report = import_orders(c.db, old, default_date=DAY, timezone=c.fleet.timezone, actor=c.user.id)
    assert report.inserted == 1  # an Unassigned board from the start
    yield c
    c.close()


@pytest.fixture
def window(qtbot: Any, core: Core, tmp_path: Path) -> MainWindow:
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    wait_for_routes(qtbot, w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def in_view(widget: QWidget) -> bool:
    """Whether some of ``widget`` shows (not clipped away by the scrolled boards row)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def test_an_imported_order_is_shown_selected_on_the_unassigned_board(
    qtbot: Any, window: MainWindow, tmp_path: Path, answer_modal: Any
) -> None:
    panel = window.routes_panel
    board = panel.boards[UNASSIGNED]
    old = list(panel.controller.route(UNASSIGNED))
    assert len(old) == 1 and board.isVisible()
    bar = panel.scroll_area.horizontalScrollBar()
    assert bar.maximum() > 0  # eight vans do not fit: the boards scroll
    bar.setValue(bar.maximum())  # the dispatcher looks at the last vans
    qtbot.waitUntil(lambda: not in_view(board))

    csv = tmp_path / "new.csv"
    csv.write_text(CSV_HEADER + "NEW-1,52.50,13.42,Just phoned\n")

    def choose(dialog: QWidget) -> None:
        assert isinstance(dialog, QFileDialog)
        dialog.selectFile(str(csv))
        dialog.accept()

    seen = answer_modal(choose)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # File > Import
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen[0].title == "Import orders"
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=15000)

    # the Unassigned board is scrolled into view, its name (left edge) first
    board = panel.boards[UNASSIGNED]
    assert in_view(board)
    assert bar.value() <= board.x() < bar.value() + panel.scroll_area.viewport().width()
    # the new order, and only it, is selected and shown in the board's table
    day = panel.controller.day
    assert day is not None
    new = [s for s in panel.controller.route(UNASSIGNED) if s not in old]
    assert [day.stops[s].order_ref for s in new] == ["NEW-1"]
    assert board.selected_stop_ids() == new
    row = board.model.index(board.model.row_of(new[0]), 0)
    assert board.table.viewport().rect().intersects(board.table.visualRect(row))
    assert panel.active_board is board

    # the report says what happened; OK closes it
    box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
    assert "new.csv: imported 1 orders, 0 already known, 0 rows rejected" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())


def test_an_imported_order_onto_a_van_without_its_skill_is_reported(
    qtbot: Any, window: MainWindow, tmp_path: Path, answer_modal: Any
) -> None:
    """An order naming its vehicle goes onto that route without a move's question: the
    report says what it breaks there, as the change line does."""
    panel = window.routes_panel
    csv = tmp_path / "cold.csv"
    csv.write_text(
        "order_id,lat,lon,customer_name,vehicle,skills\n"
        "NEW-2,52.50,13.42,Ice cream,V01,cold\n"
        "NEW-3,52.51,13.41,Bread,V01,\n"
    )

    def choose(dialog: QWidget) -> None:
        assert isinstance(dialog, QFileDialog)
        dialog.selectFile(str(csv))
        dialog.accept()

    seen = answer_modal(choose)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # File > Import
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=15000)
    box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
    assert "imported 2 orders" in box.text()
    assert "1 imported order(s) break a rule on the vehicle they name" in box.informativeText()
    assert box.detailedText() == "NEW-2 on V01: V01 lacks cold for stop NEW-2"
    assert "V01 lacks cold for stop NEW-2" in panel.change_label.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
