"""A drag that would break a constraint is shown while dragging and asked about before it drops.

The real main window over the demo day (SQLite), one stop needing a cold chain that only its
own van has: dragging it onto another van shows "lacks cold" on that board during the drag,
and the drop asks first (Cancel keeps the plan, "Drop anyway" moves it and saves it).
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
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import select

from dispatcher.core import Core
from dispatcher.persistence.orm import Route, Stop, Vehicle
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board import VehicleBoard
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
