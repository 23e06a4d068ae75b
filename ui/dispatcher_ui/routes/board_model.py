"""One vehicle's route as a Qt table: stops in order with ETA, slack, load, status, locks.

A read-only adapter over :class:`~dispatcher_ui.routes.controller.BoardController`: drops are turned
into
:meth:`BoardController.move` (a core command), never into edits of a copy held here. The
controller says what changed and the model resets (structure) or emits ``dataChanged``
(times), so every board shows the one plan.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from dispatcher import display
from dispatcher.model.core import StopStatus
from dispatcher.model.minutes import late_minutes, slack_minutes
from dispatcher.planning.dayplan import UNASSIGNED
from dispatcher_ui.routes.controller import BoardController

Index = QModelIndex | QPersistentModelIndex

#: Mime type of dragged stops: a JSON list of plan stop ids.
STOPS_MIME = "application/x-dispatcher-stop-ids"

LATE_BACKGROUND = QColor(220, 60, 60, 70)
LATE_TEXT = QColor(230, 70, 70)
DONE_TEXT = QColor(140, 140, 140)


class Column(enum.IntEnum):
    SEQ = 0
    CUSTOMER = 1
    ADDRESS = 2
    WINDOW = 3
    ETA = 4
    SLACK = 5
    LOAD = 6
    STATUS = 7
    LOCKS = 8


HEADERS = ("#", "Customer", "Address", "Window", "ETA", "Slack", "Load", "Status", "Locks")


class Role(enum.IntEnum):
    STOP_ID = Qt.ItemDataRole.UserRole + 1
    VEHICLE_ID = Qt.ItemDataRole.UserRole + 2
    LATE = Qt.ItemDataRole.UserRole + 3
    MOVABLE = Qt.ItemDataRole.UserRole + 4


class VehicleBoardModel(QAbstractTableModel):
    """Rows are the stops of ``vehicle_id``'s route ("" = the unassigned pool)."""

    def __init__(self, controller: BoardController, vehicle_id: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.vehicle_id = vehicle_id
        self._route: list[str] = list(controller.route(vehicle_id))
        self._row_of_eval: dict[str, int] = {}
        #: Each row's times as the view was last told of them (:meth:`_emit_times`).
        self._shown: dict[str, tuple[object, ...]] = {}
        #: Whether a view shows these rows now (the board sets it): new times are announced
        #: only then. With 500 boards, announcing every one's held the GUI thread each refresh.
        self.on_screen: Callable[[], bool] = lambda: True
        #: Asked before a drop that would break a constraint (the board shows a question);
        #: False keeps everything where it was.
        self.confirm_drop: Callable[[list[str]], bool] = lambda problems: True
        self._index_eval()
        controller.routes_changed.connect(self._on_routes_changed)
        controller.times_changed.connect(self._on_times_changed)

    # --- keeping up with the controller ---------------------------------------------------
    def _index_eval(self) -> None:
        ev = self.controller.route_evaluation(self.vehicle_id)
        self._row_of_eval = {} if ev is None else {s: i for i, s in enumerate(ev.stop_ids)}

    def _on_routes_changed(self, vids: frozenset[str] | None) -> None:
        self._index_eval()
        if vids is None or self.vehicle_id in vids:
            route = list(self.controller.route(self.vehicle_id))
            if vids is None and route == self._route:
                # A reload that left this route as it was: no reset. F5 at 500 vehicles
                # reset 500 tables and held the GUI thread for seconds (bench/console.py).
                if route:
                    self._emit_times()
                return
            self.beginResetModel()
            self._route = route
            self._shown.clear()
            self.endResetModel()
        elif self._route:
            self._emit_times()

    def _on_times_changed(self) -> None:
        self._index_eval()
        if self._route:
            self._emit_times()

    def _emit_times(self) -> None:
        """Tell the view which rows' times changed (one span), if the board is on screen.

        Rows whose ETA, slack, load and status read as they did when last told are left out:
        a repaint of a Python model's table calls into Python a dozen times per cell, each
        waiting for the interpreter lock while the fleet drives (bench/console.py), and a
        live refresh or a driver's progress moves only some of a route's times.
        """
        if not self.on_screen():
            self._shown.clear()  # a board scrolled out of view reads its times when painted
            return
        if self.controller.day is None:
            rows = list(range(len(self._route)))
        else:
            rows = []
            for row, sid in enumerate(self._route):
                times = self._times(sid, row)
                if self._shown.get(sid) != times:
                    self._shown[sid] = times
                    rows.append(row)
        if rows:
            last = len(Column) - 1
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], last))

    def _times(self, sid: str, row: int) -> tuple[object, ...]:
        """What a row shows that a new evaluation or a driver's progress may change."""
        day = self.controller.day
        assert day is not None
        return (
            self._schedule_text(sid, Column.ETA),
            self._schedule_text(sid, Column.SLACK),
            self._schedule_text(sid, Column.LOAD),
            self._status(sid, row),
            self._lateness(sid) > 0,
            day.plan.stops[sid].status,
        )

    def stop_id(self, row: int) -> str:
        return self._route[row]

    def stop_ids(self) -> list[str]:
        """The board's stops in row order (a copy)."""
        return list(self._route)

    def column_texts(self, col: Column) -> list[str]:
        """Every row's text in ``col``, as ``data`` shows it, without a Qt index per cell:
        measuring a day of 10,000 stops cell by cell held the GUI thread for seconds."""
        if self.controller.day is None:
            return []
        return [self._text(sid, row, col) or "" for row, sid in enumerate(self._route)]

    def row_of(self, stop_id: str) -> int:
        return self._route.index(stop_id) if stop_id in self._route else -1

    # --- structure ------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._route)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return section + 1

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsDropEnabled
        if not index.isValid():
            return base
        flags = base | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._movable(self._route[index.row()]):
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def _movable(self, sid: str) -> bool:
        """A stop of this board that may be dragged. While another day loads, the board still
        lists the old day's stops for a moment (its reset follows): those are not movable."""
        day = self.controller.day
        stop = None if day is None else day.plan.stops.get(sid)
        return stop is not None and not stop.is_fixed

    # --- data -----------------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        day = self.controller.day
        if not index.isValid() or day is None or not 0 <= index.row() < len(self._route):
            return None
        sid = self._route[index.row()]
        col = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(sid, index.row(), col)
        if role == Role.STOP_ID:
            return sid
        if role == Role.VEHICLE_ID:
            return self.vehicle_id
        if role == Role.LATE:
            return self._lateness(sid) > 0
        if role == Role.MOVABLE:
            return self._movable(sid)
        if role == Qt.ItemDataRole.BackgroundRole and self._lateness(sid) > 0:
            return QBrush(LATE_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(sid, col)
        if role == Qt.ItemDataRole.FontRole and col == Column.SLACK and self._lateness(sid) > 0:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(sid)
        return None

    def _eval_row(self, sid: str) -> int | None:
        return self._row_of_eval.get(sid)

    def _lateness(self, sid: str) -> float:
        ev = self.controller.route_evaluation(self.vehicle_id)
        i = self._eval_row(sid)
        return 0.0 if ev is None or i is None else float(ev.lateness[i])

    def _foreground(self, sid: str, col: Column) -> Any:
        day = self.controller.day
        assert day is not None
        if day.plan.stops[sid].status.is_final:
            return QBrush(DONE_TEXT)
        if col == Column.SLACK and self._lateness(sid) > 0:
            return QBrush(LATE_TEXT)
        return None

    def _text(self, sid: str, row: int, col: Column) -> str:
        day = self.controller.day
        assert day is not None
        view, stop = day.stops[sid], day.plan.stops[sid]
        if col == Column.SEQ:
            return str(row + 1)
        if col == Column.CUSTOMER:
            return view.customer_name or view.order_ref
        if col == Column.ADDRESS:
            return view.address
        if col == Column.WINDOW:
            return self._window(stop.window_start, stop.window_end)
        if col == Column.STATUS:
            return self._status(sid, row)
        if col == Column.LOCKS:
            return _locks_text(stop.pinned, stop.order_group, stop.keep_vehicle)
        return self._schedule_text(sid, col)

    def _schedule_text(self, sid: str, col: Column) -> str:
        day = self.controller.day
        ev = self.controller.route_evaluation(self.vehicle_id)
        i = self._eval_row(sid)
        if col == Column.ETA:  # done or in progress: when it really happened (stop_eta.py)
            eta = self.controller.etas.get(sid)
            return "" if eta is None else eta.clock_text()
        if day is None or ev is None or i is None:
            return ""
        if col == Column.LOAD:
            return f"{ev.load_after[i]:g}"
        late = late_minutes(float(ev.lateness[i]))
        if late > 0:
            return f"−{late} min"  # negative slack: late
        slack = day.plan.stops[sid].window_end - float(ev.service_start[i])
        return "—" if math.isinf(slack) else f"{slack_minutes(slack)} min"

    def _arrived(self, sid: str) -> str:
        """Actual arrival as local HH:MM ("" when the driver's app did not report it)."""
        day = self.controller.day
        assert day is not None
        when = day.stops[sid].actual_arrival
        return "" if when is None else display.current().clock(when.astimezone(day.origin.tzinfo))

    def _window(self, start: float, end: float) -> str:
        day = self.controller.day
        assert day is not None
        clock = display.current().clock
        a = "…" if start <= 0 else clock(day.clock_time(start))
        b = "…" if math.isinf(end) else clock(day.clock_time(end))
        return "any time" if a == b == "…" else f"{a}–{b}"

    def _status(self, sid: str, row: int) -> str:
        day = self.controller.day
        assert day is not None
        status = day.plan.stops[sid].status
        if status is StopStatus.ARRIVED:
            return "in progress"
        if status in (StopStatus.PENDING, StopStatus.NEXT) and self.vehicle_id != UNASSIGNED:
            first_open = next(
                (i for i, s in enumerate(self._route) if not day.plan.stops[s].is_fixed), -1
            )
            return "next" if row == first_open else "pending"
        return status.value

    def _tooltip(self, sid: str) -> str:
        day = self.controller.day
        assert day is not None
        view = day.stops[sid]
        lines = [f"{view.order_ref} — {view.customer_name}", view.address]
        ev = self.controller.route_evaluation(self.vehicle_id)
        i = self._eval_row(sid)
        if ev is not None and i is not None and ev.waiting[i] > 0:
            lines.append(f"waits {ev.waiting[i] / 60:.0f} min for the window")
        lines.append(f"{view.kind}, load {view.demand}, service {view.service_s // 60} min")
        if view.actual_arrival is not None:
            lines.append(f"arrived {self._arrived(sid)} (reported by the driver)")
        if not self._movable(sid):
            lines.append("done or in progress: cannot be moved")
        return "\n".join(lines)

    # --- drag and drop --------------------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [STOPS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        ids = [self._route[r] for r in rows if self._movable(self._route[r])]
        mime = QMimeData()
        mime.setData(STOPS_MIME, QByteArray(json.dumps(ids).encode()))
        return mime

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        return data.hasFormat(STOPS_MIME)

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        """Ask the controller to move the dragged stops here; the view removes nothing."""
        ids = decode_stop_ids(data)
        if not ids:
            return False
        if row < 0:
            row = parent.row() if parent.isValid() else len(self._route)
        # asked first when it would break a constraint (the same question as a keyboard move)
        self.controller.move(ids, self.vehicle_id, row, self.confirm_drop)
        return False  # the controller changed the plan; a True would make the view delete rows


def decode_stop_ids(data: QMimeData) -> list[str]:
    """Stop ids from a drag, or [] for anything that is not a list of strings."""
    if not data.hasFormat(STOPS_MIME):
        return []
    try:
        ids = json.loads(bytes(data.data(STOPS_MIME).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
        return []
    return ids


def _locks_text(pinned: bool, group: str | None, keep: bool) -> str:
    parts = []
    if pinned:
        parts.append("pinned")
    if group:
        parts.append(f"order {group}")
    if keep:
        parts.append("kept")
    return ", ".join(parts)
