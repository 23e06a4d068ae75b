"""Dropping stops on a route board as a real drag does (shared by tests/ui and tests/web).

Qt routes a drop to the widget that accepted the drag-enter, so a drop is a drag-enter then a
drop, both delivered to the board's viewport just above ``row``.
"""

from __future__ import annotations

import json
import warnings

from PySide6.QtCore import QByteArray, QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from dispatcher_ui.routes.board import VehicleBoard
from dispatcher_ui.routes.board_model import STOPS_MIME


def stops_mime(stop_ids: list[str]) -> QMimeData:
    """What a drag of ``stop_ids`` off a board carries."""
    mime = QMimeData()
    mime.setData(STOPS_MIME, QByteArray(json.dumps(stop_ids).encode()))
    return mime


def row_point(board: VehicleBoard, row: int) -> QPointF:
    """Just above ``row`` of the board's table (where a drop inserts before it)."""
    rect = board.table.visualRect(board.model.index(row, 0))
    return QPointF(rect.center().x(), rect.top() + 1)


def drop_on(board: VehicleBoard, stop_ids: list[str], row: int) -> None:
    """Deliver drag-enter and drop events of ``stop_ids`` on ``board`` just above ``row``."""
    mime, pos = stops_mime(stop_ids), row_point(board, row)
    table = board.table
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide marks the QPoint constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(table.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        table.viewport(), QDropEvent(pos, Qt.DropAction.MoveAction, mime, buttons, keys)
    )
