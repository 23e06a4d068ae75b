"""A move that would break a constraint is shown while dragging and asked about before it is made.

The real main window over the demo day (SQLite), one stop needing a cold chain that only its
own van has: dragging it onto another van shows "lacks cold" on that board during the drag,
and the drop asks first (Cancel keeps the plan, "Drop anyway" moves it and saves it). The
keyboard (Alt+Up / Alt+Down, Ctrl+Shift+M) and the board's context menu (*Move to vehicle*,
*Unassign*) ask "Move anyway?" over the same check, on two stops of V03 made a pickup and its
delivery; a move made anyway is undone by Ctrl+Z like any other.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from board_drag import row_point, stops_mime
from fleet_zone import DAY
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QInputDialog, QMenu, QMessageBox
from sqlalchemy import select

from dispatcher.core import Core
from dispatcher.persistence.orm import Route, Stop, Vehicle
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board import VehicleBoard
from dispatcher_ui.routes.confirm import OBJECT_NAME as CONFIRM_MOVE
from dispatcher_ui.routes.panel import RoutesPanel

COLD_REF: dict[str, str] = {}


@pytest.fixture
def core(sqlite_url: str, demo_core: Callable[..., Core]) -> Core:
    c = demo_core(sqlite_url)
    with c.db.session() as session:
        session.get(Vehicle, "V04").skills = ["cold"]  # type: ignore[union-attr]  # the demo has V04
        route = session.scalars(select(Route).where(Route.vehicle_id == "V04")).one()
        stop = session.scalars(
            select(Stop).where(Stop.route_id == route.id, Stop.status == "pending")
        ).first()
        assert stop is not None
        stop.required_skills = ["cold"]
        COLD_REF["id"], COLD_REF["ref"] = str(stop.id), stop.order_ref
        v03 = session.scalars(select(Route).where(Route.vehicle_id == "V03")).one()
        pick, deliver = sorted(v03.stops, key=lambda s: s.sequence or 0)[2:4]
        pick.kind, pick.pair_key = "pickup", "P1"
        deliver.kind, deliver.pair_key = "delivery", "P1"
        COLD_REF["pick"], COLD_REF["deliver"] = str(pick.id), str(deliver.id)
    return c


@pytest.fixture
def window(board_window: MainWindow) -> MainWindow:
    return board_window  # not shown (tests/ui/conftest.py)


def drag_over(board: VehicleBoard, stop_ids: list[str], row: int) -> None:
    """Enter the board's table with a drag of ``stop_ids`` and move just above ``row``."""
    mime, pos = stops_mime(stop_ids), row_point(board, row)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide marks the QPoint constructors deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys)
        QApplication.sendEvent(board.table.viewport(), enter)
        assert enter.isAccepted()
        move = QDragMoveEvent(pos.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys)
        QApplication.sendEvent(board.table.viewport(), move)


def drop(board: VehicleBoard, stop_ids: list[str], row: int) -> None:
    mime = stops_mime(stop_ids)  # kept alive while the event uses it
    event = QDropEvent(
        row_point(board, row),
        Qt.DropAction.MoveAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(board.table.viewport(), event)


def answer_with(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Answer the drop's question when it is shown, noting what it said."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.informativeText())
        box.button(button).click()

    QTimer.singleShot(0, answer)


def test_a_drag_breaking_a_skill_is_shown_before_the_drop_and_asked_about(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    c = panel.controller
    sid, ref = COLD_REF["id"], COLD_REF["ref"]
    target = panel.boards["V12"]
    assert c.day is not None
    before = {v: list(r) for v, r in c.day.plan.routes.items()}

    drag_over(target, [sid], 1)
    assert target.drop_warning.isVisibleTo(target)
    assert f"V12 lacks cold for stop {ref}" in target.drop_warning.text()
    target.grab().save(str(tmp_path / "drop_warning.png"))

    seen: list[str] = []
    answer_with(QMessageBox.StandardButton.Cancel, seen)
    drop(target, [sid], 1)
    assert seen and f"V12 lacks cold for stop {ref}" in seen[0]
    assert c.day.plan.routes == before, "cancelled: nothing moved"
    assert not target.drop_warning.isVisibleTo(target)

    own = panel.boards["V04"]
    drag_over(own, [sid], own.model.rowCount())
    assert not own.drop_warning.isVisibleTo(own), "its own van has the skill"

    seen.clear()
    drag_over(target, [sid], 1)
    answer_with(QMessageBox.StandardButton.Yes, seen)
    drop(target, [sid], 1)
    assert seen
    assert c.day.plan.routes["V12"][1] == sid
    assert "lacks cold" in target.header.text(), "the board keeps saying it"
    target.grab().save(str(tmp_path / "after_drop.png"))
    qtbot.waitUntil(lambda: not c.saving)
    routes = {r.vehicle_id: [str(s.id) for s in r.stops] for r in window.core.load_routes(DAY)}
    assert routes["V12"][1] == sid


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def show_active(qtbot, window: MainWindow) -> None:
    """Window shortcuts (Ctrl+Z, Alt+Up) fire only in the active window."""
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def back_to(qtbot, window: MainWindow, board: VehicleBoard) -> None:
    """The window active again with the board's table focused after a question closed (the
    offscreen platform does not hand activation back the way a window manager does)."""
    show_active(qtbot, window)
    board.table.setFocus()


def answer_move_by_key(qtbot, key: Qt.Key, seen: list[str]) -> None:
    """Answer the next "Move anyway?" with a key (Escape keeps the plan, Alt+M moves)."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != CONFIRM_MOVE:
            QTimer.singleShot(20, answer)
            return
        if QApplication.activeWindow() is not box:  # a mnemonic acts in the active window
            box.activateWindow()
            QTimer.singleShot(20, answer)
            return
        seen.append(f"{box.windowTitle()}|{box.informativeText()}")
        mods = Qt.KeyboardModifier.AltModifier if key == Qt.Key.Key_M else Qt.KeyboardModifier(0)
        qtbot.keyClick(box, key, mods)

    QTimer.singleShot(0, answer)


def choose_vehicle(vehicle_id: str) -> None:
    """Pick ``vehicle_id`` in the next "Move to vehicle" question."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QInputDialog):
            QTimer.singleShot(20, answer)
            return
        box.setTextValue(vehicle_id)
        box.accept()

    QTimer.singleShot(0, answer)


def context_action(qtbot, panel: RoutesPanel, board: VehicleBoard, *path: str) -> None:
    """Open the board's real context menu on its selection and trigger the entry at ``path``
    (a submenu's title, then its entry; each matched by a part of its text)."""
    row = board.model.row_of(board.selected_stop_ids()[0])
    pos = board.table.visualRect(board.model.index(row, 0)).center()
    before = set(panel.findChildren(QMenu))
    board.table.customContextMenuRequested.emit(pos)
    menu = next(m for m in panel.findChildren(QMenu) if m not in before and m.isVisible())
    top = menu
    for text in path[:-1]:
        sub = next(a for a in menu.actions() if text in a.text()).menu()
        assert isinstance(sub, QMenu)
        menu = sub
    action = next(a for a in menu.actions() if path[-1] in a.text())
    top.close()  # as a click on the entry closes the menu before its slot runs
    action.trigger()


def test_keyboard_moves_that_break_a_pair_ask_first_and_undo_back(
    qtbot, window: MainWindow
) -> None:
    show_active(qtbot, window)
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    c = panel.controller
    assert c.day is not None
    pick, deliver = COLD_REF["pick"], COLD_REF["deliver"]
    route = list(c.day.plan.routes["V03"])
    assert route[2:4] == [pick, deliver]
    board = panel.boards["V03"]
    board.select_stops([deliver])
    board.table.setFocus()

    seen: list[str] = []
    answer_move_by_key(qtbot, Qt.Key.Key_Escape, seen)
    qtbot.keyClick(board.table, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert seen and seen[0].startswith("Move anyway?|")
    assert "pair P1: delivered on V03 before it is picked up" in seen[0]
    assert c.day.plan.routes["V03"] == route, "Escape keeps the plan"
    assert panel.change_label.text().startswith("Not moved: it would break pair P1")

    seen.clear()
    back_to(qtbot, window, board)
    answer_move_by_key(qtbot, Qt.Key.Key_M, seen)
    qtbot.keyClick(board.table, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert seen
    assert c.day.plan.routes["V03"][2:4] == [deliver, pick], "Alt+M moves anyway"
    qtbot.waitUntil(lambda: not c.saving)
    stored = {r.vehicle_id: [str(s.id) for s in r.stops] for r in window.core.load_routes(DAY)}
    assert stored["V03"][2:4] == [deliver, pick]

    seen.clear()
    back_to(qtbot, window, board)
    board.select_stops([deliver])
    qtbot.keyClick(board.table, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert not seen, "putting it back after its pickup breaks nothing: no question"
    assert c.day.plan.routes["V03"] == route
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.day.plan.routes["V03"][2:4] == [deliver, pick], "undo takes back the last move"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.day.plan.routes["V03"] == route
    qtbot.waitUntil(lambda: not c.saving)
    stored = {r.vehicle_id: [str(s.id) for s in r.stops] for r in window.core.load_routes(DAY)}
    assert stored["V03"] == route


def test_move_to_vehicle_and_unassign_ask_like_a_drop(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    show_active(qtbot, window)
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    c = panel.controller
    assert c.day is not None
    sid, ref = COLD_REF["id"], COLD_REF["ref"]
    before = {v: list(r) for v, r in c.day.plan.routes.items()}
    own = panel.boards["V04"]
    own.select_stops([sid])
    own.table.setFocus()

    # Route > Move stops to vehicle… (Ctrl+Shift+M): the vehicle, then the question
    seen: list[str] = []
    choose_vehicle("V12")
    answer_with(QMessageBox.StandardButton.Cancel, seen)
    qtbot.keyClick(own.table, Qt.Key.Key_M, CTRL_SHIFT)
    assert seen and f"V12 lacks cold for stop {ref}" in seen[0]
    assert c.day.plan.routes == before
    assert f"Not moved: it would break V12 lacks cold for stop {ref}" in panel.change_label.text()

    # the board's context menu: Move to vehicle > V12, answered "Move anyway"
    seen.clear()
    shots: list[str] = []

    def shoot_then_move() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, shoot_then_move)
            return
        box.grab().save(str(tmp_path / "move_anyway.png"))
        shots.append(box.informativeText())
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(0, shoot_then_move)
    context_action(qtbot, panel, own, "Move to vehicle", "(V12)")
    assert shots and "lacks cold" in shots[0]
    assert c.day.plan.routes["V12"][-1] == sid
    qtbot.waitUntil(lambda: not c.saving)
    stored = {r.vehicle_id: [str(s.id) for s in r.stops] for r in window.core.load_routes(DAY)}
    assert stored["V12"][-1] == sid
    assert c.undo()
    assert c.day.plan.routes == before

    # Unassign half a pair: the other half stays planned, so it asks too
    board = panel.boards["V03"]
    board.select_stops([COLD_REF["pick"]])
    answer_with(QMessageBox.StandardButton.Cancel, seen)
    context_action(qtbot, panel, board, "Unassign")
    assert seen and "pair P1: only one of its pickup and delivery is planned" in seen[-1]
    assert c.day.plan.routes == before
    qtbot.waitUntil(lambda: not c.saving)


def test_a_best_place_that_splits_a_pair_says_so_and_asks_before_it_is_taken(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    c = panel.controller
    assert c.day is not None
    pick, deliver = COLD_REF["pick"], COLD_REF["deliver"]
    assert c.move([pick], "", 0, lambda problems: True)  # the pickup waits for a vehicle
    before = {v: list(r) for v, r in c.day.plan.routes.items()}
    unassigned = panel.boards[""]
    unassigned.select_stops([pick])
    context_action(qtbot, panel, unassigned, "Suggest best place")
    dialog = panel.last_insert_dialog
    assert dialog is not None and dialog.isVisible()
    rows = dialog.suggestions
    bad = next(i for i, s in enumerate(rows) if s.violations)
    cell = dialog.table.item(bad, 4)
    assert cell is not None
    assert "breaks a rule" in cell.text() and "pair P1" in cell.toolTip()
    dialog.grab().save(str(tmp_path / "best_place.png"))

    seen: list[str] = []
    answer_with(QMessageBox.StandardButton.Cancel, seen)
    qtbot.mouseClick(dialog.table.cellWidget(bad, 5), Qt.MouseButton.LeftButton)
    assert seen and "pair P1" in seen[0]
    assert c.day.plan.routes == before and pick in c.day.plan.unassigned
    assert dialog.isVisible() and dialog.note.text().startswith("Not inserted: it would break")

    good = next(i for i, s in enumerate(rows) if not s.violations)
    assert rows[good].vehicle_id == "V03"
    seen.clear()
    qtbot.mouseClick(dialog.table.cellWidget(good, 5), Qt.MouseButton.LeftButton)
    assert not seen, "a clean place is taken without a question"
    route = c.day.plan.routes["V03"]
    assert route.index(pick) < route.index(deliver)
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: not c.saving)
