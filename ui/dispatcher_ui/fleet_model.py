"""A table of the live fleet: one row per vehicle, updated once per tick from the core.

Adapter only: it subscribes to :class:`dispatcher.fleet.state.FleetChanged` and re-reads the
snapshots of the vehicles that changed; it never derives a status itself.

The rows take each tick's snapshots at once (``data`` answers with them), but the views are
told (``dataChanged``) at most once per :attr:`FleetModel.repaint_every_s`. Each repaint of
a Python model's table crosses into Python a dozen times per visible cell (``rowCount``,
``columnCount``, ``data`` per role), and each crossing waits for the interpreter lock while
the simulator and the ingest threads run: at 500 vehicles a repaint five times a second was
a steady share of the GUI thread's lateness (bench/console.py, docs/console.md). Comparing
the cells' texts to skip unchanged rows cost more than it saved: a driving van's "last
seen" changes with every fix, and the view repaints only the rows on screen anyway.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor

from dispatcher import display
from dispatcher.clock import system_monotonic
from dispatcher.fleet.health import COARSE_STATE, accuracy_text, position_note
from dispatcher.fleet.state import FleetChanged, FleetState, VehicleSnapshot
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model import VehicleState
from dispatcher_ui.themes import STATUS_COLOURS

Index = QModelIndex | QPersistentModelIndex


class FleetColumn(enum.IntEnum):
    VEHICLE = 0
    STATE = 1
    SPEED = 2
    LAST_SEEN = 3
    POSITION = 4
    BATTERY = 5
    SOURCE = 6


#: The speed column's heading is the fleet's unit (km/h or mph: dispatcher/display.py).
HEADERS = ("Vehicle", "State", "km/h", "Last seen", "Position", "Battery", "Device")
STATE_COLOURS = {
    VehicleState.MOVING: STATUS_COLOURS["on_time"],
    VehicleState.STOPPED: STATUS_COLOURS["done"],
    VehicleState.IDLE: STATUS_COLOURS["idle"],
    VehicleState.STALE: STATUS_COLOURS["at_risk"],
    VehicleState.OFFLINE: STATUS_COLOURS["offline"],
}


class FleetModel(QAbstractTableModel):
    #: At most this often (wall seconds) the views hear of changed rows (they repaint then).
    repaint_every_s = 1.0

    def __init__(
        self,
        fleet: FleetState,
        names: dict[str, str] | None = None,
        timezone: str | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._names = dict(names or {})
        self._rows: list[VehicleSnapshot] = []
        self._row_of: dict[str, int] = {}
        self._tz = ZoneInfo(timezone or machine_zone_name())
        self._stale: set[str] = set()  # vehicles whose new snapshot the views have not seen
        self._told_at = -float("inf")
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.timeout.connect(self.flush)

    def set_names(self, names: dict[str, str]) -> None:
        """Vehicle names as read with the routes (off the GUI thread), shown as "Van 01 (V01)"."""
        if names == self._names:
            return
        self._names = dict(names)
        if self._rows:
            # A layout change, not dataChanged on the column the window's proxy sorts on: the
            # proxy re-sorts once instead of moving 500 rows one by one (bench/console.py).
            self.layoutAboutToBeChanged.emit()
            self.layoutChanged.emit()

    def on_fleet_changed(self, event: FleetChanged) -> None:
        """Bus handler (GUI thread): insert new vehicles, refresh changed rows."""
        changed: list[int] = []
        new: list[VehicleSnapshot] = []
        for snap in self._fleet.snapshots(event.vehicle_ids):
            row = self._row_of.get(snap.vehicle_id)
            if row is None:
                new.append(snap)
            else:
                self._rows[row] = snap
                changed.append(row)
        if new:  # one insertion for all of them: a fleet reporting in is 500 at once
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for snap in new:
                self._row_of[snap.vehicle_id] = len(self._rows)
                self._rows.append(snap)
            self.endInsertRows()
        if changed:
            self._stale.update(self._rows[row].vehicle_id for row in changed)
            wait = self.repaint_every_s - (system_monotonic() - self._told_at)
            if wait <= 0:
                self.flush()
            elif not self._flush.isActive():
                self._flush.start(max(1, int(wait * 1000)))

    def flush(self) -> None:
        """Tell the views about the rows that changed since they last heard (one signal)."""
        self._flush.stop()
        self._told_at = system_monotonic()
        stale, self._stale = self._stale, set()
        rows = [row for row in map(self._row_of.get, stale) if row is not None]
        if rows:  # one signal for the span: 500 vehicles a tick were 500 signals
            # Not the vehicle column (names change in set_names only): the window's proxy sorts
            # on it, and a change there re-sorted 500 rows on the GUI thread every tick.
            last = len(HEADERS) - 1
            first = FleetColumn.VEHICLE + 1
            self.dataChanged.emit(self.index(min(rows), first), self.index(max(rows), last))

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            if section == FleetColumn.SPEED:
                return display.current().speed_unit
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        snap = self._rows[index.row()]
        col = FleetColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(snap, col)
        if role == Qt.ItemDataRole.ToolTipRole and col in (FleetColumn.STATE, FleetColumn.POSITION):
            return position_note(snap) or None
        if role == Qt.ItemDataRole.ForegroundRole and col == FleetColumn.STATE:
            if snap.coarse:
                return QBrush(QColor(STATUS_COLOURS["offline"]))
            colour = STATE_COLOURS.get(snap.state)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.UserRole:
            return snap.vehicle_id
        return None

    def _text(self, s: VehicleSnapshot, col: FleetColumn) -> str:
        if col == FleetColumn.VEHICLE:
            name = self._names.get(s.vehicle_id)
            return f"{name} ({s.vehicle_id})" if name else s.vehicle_id
        if col == FleetColumn.STATE:
            return COARSE_STATE if s.coarse else s.state.value
        if col == FleetColumn.SPEED:  # a silent van's last speed is not its speed now
            if s.speed_kmh is None or s.state in (VehicleState.OFFLINE, VehicleState.STALE):
                return ""
            shown = display.current()
            return shown.number(shown.speed_value(s.speed_kmh), 0)
        if col == FleetColumn.LAST_SEEN:
            return self._time(s.last_seen)
        if col == FleetColumn.POSITION:
            if s.lat is None or s.lon is None:
                return ""
            where = f"{s.lat:.5f}, {s.lon:.5f}"
            return f"{where} ({accuracy_text(s.accuracy_m)})" if s.coarse else where
        if col == FleetColumn.BATTERY:
            return "" if s.battery_pct is None else f"{s.battery_pct:.0f} %"
        return s.source or ""

    def _time(self, when: datetime | None) -> str:
        return "" if when is None else display.current().clock(when.astimezone(self._tz), True)
