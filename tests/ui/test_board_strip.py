"""A fleet's day on the route boards: only the boards on screen are built (strip.py).

Real main window over a 200-vehicle day (SQLite): the window builds a handful of boards, a
stop selected on the map on a far vehicle builds that board and scrolls it into view, the
filter counts matches from the plan (a board never built still shows up when it matches),
and boards scrolled far away are deleted again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.panel import RoutesPanel
from dispatcher_ui.routes.strip import KEEP_AWAY

VEHICLES = 200


@pytest.fixture(scope="module")
def scenario() -> Any:
    return demo_day(DAY, n_vehicles=VEHICLES, n_orders=VEHICLES * 4)


@pytest.fixture
def core(sqlite_url: str, scenario: Any) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, scenario)
    yield c
    c.close()


@pytest.fixture
def panel(qtbot: Any, core: Core, tmp_path: Path) -> RoutesPanel:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window, timeout=60000)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    p = window.routes_panel
    assert isinstance(p, RoutesPanel)
    qtbot.waitUntil(lambda: len(p.boards) > 0)
    return p


def in_view(panel: RoutesPanel, vid: str) -> bool:
    bar, view = panel.scroll_area.horizontalScrollBar(), panel.scroll_area.viewport().width()
    board = panel.boards[vid]
    return board.isVisible() and bar.value() <= board.x() < bar.value() + view


def test_a_fleet_day_builds_only_the_boards_on_screen(qtbot: Any, panel: RoutesPanel) -> None:
    strip = panel.strip
    assert len(strip.known) == VEHICLES + 1 and len(strip.order) >= VEHICLES
    built = len(panel.boards)
    assert 0 < built <= 12, built  # a view or three of boards, not 201
    assert all(b.parent() is strip for b in panel.boards.values())
    # the row is as wide as every slot: the scroll bar reaches the last vehicle
    assert panel.scroll_area.horizontalScrollBar().maximum() > (VEHICLES - 5) * 200


def test_selecting_a_stop_of_a_far_vehicle_builds_and_shows_its_board(
    qtbot: Any, panel: RoutesPanel
) -> None:
    far = panel.controller.vehicle_ids()[-3]
    assert far not in panel.strip.built
    sid = panel.controller.route(far)[1]
    panel.window_.selection.select_stop(int(sid), far, source="map")
    board = panel.strip.built[far]
    assert board.selected_stop_ids() == [sid]
    assert panel.active_board is board
    qtbot.waitUntil(lambda: in_view(panel, far))
    # the boards beside it are built too, and the ones at the start are not all kept
    qtbot.waitUntil(lambda: panel.controller.vehicle_ids()[-4] in panel.strip.built)
    assert len(panel.boards) <= 2 * 12 + KEEP_AWAY


def test_the_filter_finds_a_stop_on_a_board_never_built(qtbot: Any, panel: RoutesPanel) -> None:
    c = panel.controller
    far = c.vehicle_ids()[-1]
    assert far not in panel.strip.built and c.day is not None
    ref = c.day.stops[c.route(far)[0]].order_ref
    panel.filter.setText(ref)
    assert far in panel.strip.order and len(panel.strip.order) <= 3
    qtbot.waitUntil(lambda: far in panel.strip.built)
    board = panel.boards[far]
    shown = [r for r in range(board.model.rowCount()) if not board.table.isRowHidden(r)]
    assert [board.model.stop_id(r) for r in shown] == [c.route(far)[0]]
    panel.filter.clear()
    assert len(panel.strip.order) >= VEHICLES


def test_boards_scrolled_far_away_are_deleted_again(qtbot: Any, panel: RoutesPanel) -> None:
    bar = panel.scroll_area.horizontalScrollBar()
    first = panel.controller.vehicle_ids()[0]
    panel.boards[first].table.setFocus()  # not the active board: that one is kept
    panel.active_board = None
    step = panel.scroll_area.viewport().width()
    for value in range(0, bar.maximum(), step * 3):
        bar.setValue(value)
        panel.strip.sync()
    qtbot.wait(10)
    assert len(panel.boards) <= KEEP_AWAY + 12
    assert first not in panel.strip.built


def test_the_boards_chooser_shows_far_vehicles_side_by_side(qtbot: Any, panel: RoutesPanel) -> None:
    """The "Boards" menu: two far vehicles chosen are the only slots, built and in view."""
    ids = panel.controller.vehicle_ids()
    chosen = {ids[-1], ids[-40]}
    menu = panel.boards_button.menu()
    menu.aboutToShow.emit()  # as opening the menu fills it
    everyone = next(a for a in menu.actions() if a.text() == "All vehicles")
    for action in menu.actions():
        if action.isCheckable() and not any(f"({v})" in action.text() for v in chosen):
            action.setChecked(False)  # unticked one by one, as a dispatcher would
    assert set(panel.strip.order) == chosen
    for vid in chosen:
        qtbot.waitUntil(lambda v=vid: v in panel.strip.built and in_view(panel, v))
    everyone.trigger()
    assert len(panel.strip.order) >= VEHICLES
