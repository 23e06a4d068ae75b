"""A tree model of the day's routes: one row per vehicle, its stops as children.

Read-only adapter over :class:`dispatcher.model.stops.RouteView`; editing (drag and
drop, locks) goes through core commands in the route boards, never through this model.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from dispatcher import display
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model.stops import RouteView, StopView
from dispatcher_ui.themes import STATUS_COLOURS

Index = QModelIndex | QPersistentModelIndex
_NO_PARENT = 0xFFFFFFFF


class Column(enum.IntEnum):
    NAME = 0
    CUSTOMER = 1
    ADDRESS = 2
    WINDOW = 3
    DEMAND = 4
    KIND = 5
    STATUS = 6


HEADERS = {
    Column.NAME: "Vehicle / stop",
    Column.CUSTOMER: "Customer",
    Column.ADDRESS: "Address",
    Column.WINDOW: "Time window",
    Column.DEMAND: "Load",
    Column.KIND: "Kind",
    Column.STATUS: "Status",
}


class Role(enum.IntEnum):
    STOP_ID = Qt.ItemDataRole.UserRole + 1
    VEHICLE_ID = Qt.ItemDataRole.UserRole + 2


class RoutesModel(QAbstractItemModel):
    """Two-level tree; a stop's internal id is its route's row, a route's is ``_NO_PARENT``."""

    def __init__(self, timezone: str | None = None, parent: Any = None) -> None:
        """``timezone``: the fleet's (``core.fleet.timezone``); the machine's when omitted."""
        super().__init__(parent)
        self._routes: list[RouteView] = []
        self._tz = ZoneInfo(timezone or machine_zone_name())

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    def set_routes(self, routes: list[RouteView]) -> None:
        self.beginResetModel()
        self._routes = list(routes)
        self.endResetModel()

    def route_count(self) -> int:
        """Vehicles' routes: the Unassigned pool (vehicle id "") is not a route."""
        return sum(1 for r in self._routes if r.vehicle_id)

    def unassigned_count(self) -> int:
        return sum(len(r.stops) for r in self._routes if not r.vehicle_id)

    def stop_count(self) -> int:
        return sum(len(r.stops) for r in self._routes)

    # --- structure -------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _NO_PARENT)
        return self.createIndex(row, column, parent.row())

    # PySide6's stub overloads parent() (the QObject's parent) with parent(child); views only
    # ask for the index form, and this model answers both with an index, as it always has.
    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # above
        if not child.isValid():
            return QModelIndex()
        route_row = child.internalId()
        if route_row == _NO_PARENT:
            return QModelIndex()
        return self.createIndex(route_row, 0, _NO_PARENT)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._routes)
        if parent.column() != 0 or parent.internalId() != _NO_PARENT:
            return 0
        return len(self._routes[parent.row()].stops)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(Column(section)) if 0 <= section < len(Column) else None
        return None

    # --- data ------------------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == _NO_PARENT:
            return self._route_data(self._routes[index.row()], index.column(), role)
        route = self._routes[index.internalId()]
        return self._stop_data(route, route.stops[index.row()], index.column(), role)

    def _route_data(self, route: RouteView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            load = sum(s.demand for s in route.stops if s.kind == "delivery")
            return {
                Column.NAME: f"{route.vehicle_name} ({route.vehicle_id})",
                Column.CUSTOMER: route.driver_name,
                Column.ADDRESS: f"{len(route.stops)} stops",
                Column.DEMAND: f"{load}/{route.capacity}",
            }.get(Column(column), "")
        if role == Role.VEHICLE_ID:
            return route.vehicle_id
        if role == Qt.ItemDataRole.FontRole and column == Column.NAME:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    def _stop_data(self, route: RouteView, stop: StopView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                Column.NAME: f"{stop.sequence or '–'}. {stop.order_ref}",
                Column.CUSTOMER: stop.customer_name,
                Column.ADDRESS: stop.address,
                Column.WINDOW: self._window_text(stop.window_start, stop.window_end),
                Column.DEMAND: str(stop.demand),
                Column.KIND: stop.kind,
                Column.STATUS: stop.status,
            }.get(Column(column), "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{stop.order_ref} — {stop.customer_name}\n{stop.address}\n"
                f"Window: {self._window_text(stop.window_start, stop.window_end)}\n"
                f"Service {stop.service_s // 60} min, load {stop.demand}, {stop.kind}"
            )
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column == Column.KIND
            and stop.kind == "pickup"
        ):
            return QBrush(QColor(STATUS_COLOURS["idle"]))
        if role == Role.STOP_ID:
            return stop.id
        if role == Role.VEHICLE_ID:
            return route.vehicle_id
        return None

    def _window_text(self, start: datetime | None, end: datetime | None) -> str:
        if start is None and end is None:
            return "any time"
        clock = display.current().clock
        a = clock(start.astimezone(self._tz)) if start else "…"
        b = clock(end.astimezone(self._tz)) if end else "…"
        return f"{a}–{b}"
