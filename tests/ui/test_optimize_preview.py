"""The whole-fleet optimize preview, driven through the real window (issue 14): a map of the
proposed routes beside the table, a search that ends when it converges, not at its limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QRadioButton

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.optimize_dialog import OptimizeDialog
from dispatcher_ui.routes.preview_map import PREVIEW_COLOURS

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    path = tmp_path / "p.sqlite3"
    c = Core(Settings(database_url=f"sqlite:///{path}"), clock=FakeClock(utc(7, 0)))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY, n_orders=40, n_vehicles=3))
    yield c
    c.close()


def shown(qtbot: Any, dialog: OptimizeDialog) -> dict[str, Any]:
    """What the preview's map draws now (asked of the page itself)."""
    assert dialog.map is not None
    answers: list[dict[str, Any]] = []
    dialog.map.summary(answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=10000)
    return answers[0]


def test_the_whole_fleet_preview_shows_the_proposed_routes_on_a_map(
    qtbot: Any, window: MainWindow
) -> None:
    board = window.routes_panel.boards["V01"]
    board.table.setFocus()
    qtbot.keyClick(board.table, Qt.Key.Key_O, CTRL_SHIFT)
    dialog = window.routes_panel.last_optimize_dialog
    assert isinstance(dialog, OptimizeDialog) and dialog.vehicle_id is None
    qtbot.waitUntil(lambda: dialog.outcome is not None or bool(dialog.error), timeout=60000)
    result = dialog.outcome
    assert result is not None
    # 40 stops converge long before the 10-s limit, and the dialog says so
    assert result.converged and "converged" in dialog.status.text()

    assert dialog.map is not None and dialog.map.isVisible()
    qtbot.waitUntil(lambda: dialog.map is not None and dialog.map.loaded, timeout=30000)
    proposed = shown(qtbot, dialog)
    assert proposed["mode"] == "after" and proposed["routes"] == 3
    assert proposed["stops"] == sum(len(r) for r in result.routes.values())
    assert proposed["numbered"] == proposed["stops"]  # a small day: every stop numbered
    assert proposed["moved"] == len(result.moved)
    assert proposed["unassigned"] == len(result.unassigned)

    # each row wears its vehicle's colour on the map
    items = [dialog.table.item(r, 0) for r in range(dialog.table.rowCount())]
    assert all(item is not None for item in items)
    vids = [item.text() for item in items if item is not None]
    swatches = [
        item.data(Qt.ItemDataRole.DecorationRole).name() for item in items if item is not None
    ]
    assert swatches == [QColor(c).name() for c in PREVIEW_COLOURS[: len(vids)]]

    # a click on a row zooms to that vehicle and numbers its stops only
    rect = dialog.table.visualRect(dialog.table.model().index(1, 2))
    qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: shown(qtbot, dialog)["focus"] == vids[1], timeout=10000)
    assert shown(qtbot, dialog)["numbered"] == len(result.routes[vids[1]])

    # "Current" draws the routes as they are now
    current = dialog.findChild(QRadioButton, "preview_before")
    assert isinstance(current, QRadioButton)
    qtbot.mouseClick(current, Qt.MouseButton.LeftButton, pos=current.rect().center())
    qtbot.waitUntil(lambda: shown(qtbot, dialog)["mode"] == "before", timeout=10000)
    day = window.routes_panel.controller.day
    assert day is not None
    assert shown(qtbot, dialog)["stops"] == len(day.plan.routes[vids[1]])
    assert list(dialog.map.map_page.errors) == []

    # Discard closes the dialog and lets the page go
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and dialog.map is None


def test_the_preview_page_shows_names_as_text(qapp: Any) -> None:
    """A customer name is data: inlined in the page's script as an escaped literal and put
    into the DOM as text, so markup in it never runs."""
    from dispatcher.maps.jsbridge import to_js
    from dispatcher_ui.routes.preview_map import page_html

    name = "</script><img src=x onerror=alert(1)>`${1}`"
    stop = [52.5, 13.4, "R-1", name, "street", 0, 0, "", "10:00", 0]
    vehicle = {
        "id": "V1",
        "name": name,
        "colour": "#1f77b4",
        "start": [52.5, 13.39],
        "end": None,
        "before": [0],
        "after": [0],
        "changes": "unchanged",
    }
    payload = {"vehicles": [vehicle], "stops": [stop], "unassigned": {"before": [], "after": []}}
    html = page_html(payload)
    assert name not in html and to_js(payload) in html
    assert json.loads(to_js(payload))["stops"][0][3] == name


def test_the_route_preview_says_which_engine_found_the_plan(qtbot: Any, window: MainWindow) -> None:
    """Resequencing one route runs the local search and OR-Tools side by side (issue 18):
    the status line names the winner."""
    board = window.routes_panel.boards["V01"]
    rect = board.table.visualRect(board.table.model().index(0, 1))
    qtbot.mouseClick(board.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.keyClick(board.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dialog = window.routes_panel.last_optimize_dialog
    assert isinstance(dialog, OptimizeDialog) and dialog.vehicle_id == "V01"
    qtbot.waitUntil(lambda: dialog.outcome is not None or bool(dialog.error), timeout=60000)
    result = dialog.outcome
    assert result is not None, dialog.error
    assert result.engine in ("local", "ortools")
    assert result.ortools_status, "OR-Tools ran beside the local search"
    found = "found by OR-Tools" if result.engine == "ortools" else "found by local search"
    assert found in dialog.status.text()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
