"""Table models of the Devices dock: devices (with their binding) and quarantined messages.

Adapters only: they show rows the devices desk read off the GUI thread; sorting and filtering
are a ``QSortFilterProxyModel`` over them (``SORT_ROLE`` gives the raw value to sort by).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from dispatcher import display
from dispatcher.devices.registry_cli import own_profile
from dispatcher.persistence.device_repo import DeviceView, QuarantineView
from dispatcher.telemetry.profiles import STOCK_PROFILES, DeviceProfile

Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2


class DeviceColumn(enum.IntEnum):
    KEY = 0
    FORMAT = 1
    VEHICLE = 2
    PROFILE = 3
    MESSAGES = 4
    FIRST_SEEN = 5
    LAST_SEEN = 6
    POSITION = 7
    TOPIC = 8


DEVICE_HEADERS = (
    "Device",
    "Format",
    "Bound to",
    "Profile",
    "Messages",
    "First seen",
    "Last seen",
    "Last position",
    "Topic",
)
QUARANTINE_HEADERS = ("Received", "Device", "Reason", "Detail", "Size", "Payload (excerpt)")


def _time(value: datetime | None, tz: ZoneInfo) -> str:
    return "" if value is None else display.current().stamp(value.astimezone(tz), True, year=False)


class _Table(QAbstractTableModel):
    headers: tuple[str, ...] = ()

    def __init__(self, tz: ZoneInfo, parent: Any = None) -> None:
        super().__init__(parent)
        self._tz = tz

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.headers)
        ):
            return self.headers[section]
        return None


class DevicesModel(_Table):
    """One row per device: key, format, binding, profile, counts, times, position, topic.

    The profile column shows the device's own profile, else "default: …" with what its
    format's default reads (``defaults``, the ``[telemetry.<format>]`` profiles).
    """

    headers = DEVICE_HEADERS

    def __init__(
        self,
        tz: ZoneInfo,
        parent: Any = None,
        defaults: Mapping[str, DeviceProfile] | None = None,
    ) -> None:
        super().__init__(tz, parent)
        self._rows: list[DeviceView] = []
        self._defaults = dict(STOCK_PROFILES if defaults is None else defaults)

    def set_devices(self, devices: Sequence[DeviceView]) -> None:
        self.beginResetModel()
        self._rows = list(devices)
        self.endResetModel()

    def device(self, row: int) -> DeviceView:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        d = self._rows[index.row()]
        col = DeviceColumn(index.column())
        if role == KEY_ROLE:
            return d.device_key
        if role == SORT_ROLE:
            return self._sort_value(d, col)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(d, col)
        if role == Qt.ItemDataRole.ToolTipRole and col is DeviceColumn.KEY:
            return d.device_key
        if role == Qt.ItemDataRole.ToolTipRole and col is DeviceColumn.PROFILE:
            return "Its own profile (Profile… changes it)" if d.profile else "Its format's default"
        return None

    def _text(self, d: DeviceView, col: DeviceColumn) -> str:
        if col is DeviceColumn.KEY:
            return d.device_key
        if col is DeviceColumn.FORMAT:
            return d.format
        if col is DeviceColumn.VEHICLE:
            return d.vehicle_id or ("— unbound" if d.unknown else "")
        if col is DeviceColumn.PROFILE:
            return self._profile(d)
        if col is DeviceColumn.MESSAGES:
            return str(d.messages)
        if col is DeviceColumn.FIRST_SEEN:
            return _time(d.first_seen, self._tz)
        if col is DeviceColumn.LAST_SEEN:
            return _time(d.last_seen, self._tz)
        if col is DeviceColumn.POSITION:
            return "" if d.lat is None or d.lon is None else f"{d.lat:.5f}, {d.lon:.5f}"
        return d.topic

    def _profile(self, d: DeviceView) -> str:
        own = own_profile(d)
        if own is not None:
            return own.summary()
        default = self._defaults.get(d.format)
        return "default" if default is None else f"default: {default.summary()}"

    def _sort_value(self, d: DeviceView, col: DeviceColumn) -> Any:
        if col is DeviceColumn.MESSAGES:
            return d.messages
        if col in (DeviceColumn.FIRST_SEEN, DeviceColumn.LAST_SEEN):
            when = d.first_seen if col is DeviceColumn.FIRST_SEEN else d.last_seen
            return "" if when is None else when.isoformat()
        return self._text(d, col)


class QuarantineModel(_Table):
    """Quarantined messages, newest first."""

    headers = QUARANTINE_HEADERS

    def __init__(self, tz: ZoneInfo, parent: Any = None) -> None:
        super().__init__(tz, parent)
        self._rows: list[QuarantineView] = []

    def set_messages(self, messages: Sequence[QuarantineView]) -> None:
        self.beginResetModel()
        self._rows = list(messages)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        m = self._rows[index.row()]
        values = (
            _time(m.received_at, self._tz),
            m.device_key or "(no device)",
            m.reason,
            m.detail,
            f"{m.payload_size} B",
            m.excerpt[:200],
        )
        if role == SORT_ROLE:
            return m.received_at.isoformat() if index.column() == 0 else values[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return values[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 5:
            return m.excerpt
        return None
