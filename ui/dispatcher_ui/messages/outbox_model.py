"""The outbox as a Qt table: one row per message, newest first, and its filter proxy.

The model is an adapter over snapshots the dock loads off the GUI thread
(:meth:`OutboxModel.set_rows`); it never edits a row. The proxy filters by status, by stop
(the per-stop history) and by free text over customer, stop, address and text.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from dispatcher import display
from dispatcher.fleet_settings import machine_zone_name
from dispatcher.model.messaging import OutboxMessage, OutboxStatus

Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    CUSTOMER = 0
    STOP = 1
    TEMPLATE = 2
    CHANNEL = 3
    STATUS = 4
    CREATED = 5
    SENT = 6
    ATTEMPTS = 7
    ERROR = 8
    ADDRESS = 9
    TEXT = 10
    BY = 11
    SENT_BY = 12


#: The automation's triggers in plain words (dispatcher/messaging/auto.py, ``auto:<trigger>``).
TRIGGERS = {
    "route_started": "route started",
    "arriving_soon": "arriving soon",
    "eta_moved": "running late",
    "delivered": "delivered",
    "failed": "missed you",
    "window_changed": "window changed",
}
AUTO_PREFIX = "auto:"


def sent_by(created_by: str, reason: str = "") -> str:
    """ "Automatic · running late (ETA moved by 25 min)", or the person who sent it."""
    if not created_by.startswith(AUTO_PREFIX):
        return created_by
    trigger = created_by[len(AUTO_PREFIX) :]
    label = TRIGGERS.get(trigger, trigger.replace("_", " "))
    return f"Automatic · {label}" + (f" ({reason})" if reason else "")


HEADERS = {
    Column.CUSTOMER: "Customer",
    Column.STOP: "Stop",
    Column.TEMPLATE: "Template",
    Column.CHANNEL: "Channel",
    Column.STATUS: "Status",
    Column.CREATED: "Created",
    Column.SENT: "Sent / delivered",
    Column.ATTEMPTS: "Tries",
    Column.ERROR: "Error",
    Column.ADDRESS: "To",
    Column.TEXT: "Text",
    Column.BY: "By",
    Column.SENT_BY: "Sent by",
}


class Role(enum.IntEnum):
    MESSAGE_ID = Qt.ItemDataRole.UserRole + 1
    STATUS = Qt.ItemDataRole.UserRole + 2
    STOP_REF = Qt.ItemDataRole.UserRole + 3
    SORT = Qt.ItemDataRole.UserRole + 4
    #: True for a row the automation queued (``created_by`` ``auto:<trigger>``).
    AUTOMATIC = Qt.ItemDataRole.UserRole + 5


STATUS_COLOURS = {
    OutboxStatus.QUEUED: "#c9a227",
    OutboxStatus.SENDING: "#4a90d9",
    OutboxStatus.SENT: "#3fae5a",
    OutboxStatus.DELIVERED: "#2e8b57",
    OutboxStatus.FAILED: "#d9534f",
    OutboxStatus.CANCELLED: "#8a8a8a",
}


class OutboxModel(QAbstractTableModel):
    """Outbox rows (snapshots) with the customer's name; read-only."""

    def __init__(self, timezone: str | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[OutboxMessage] = []
        self._names: dict[int, str] = {}
        self._reasons: dict[int, tuple[str, str]] = {}
        self._tz = ZoneInfo(timezone or machine_zone_name())

    def set_rows(
        self,
        rows: list[OutboxMessage],
        names: dict[int, str],
        reasons: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        """Replace the content (rows newest first, as the store lists them); ``reasons``:
        why the automation sent a row, by message id (``(trigger, reason)``)."""
        self.beginResetModel()
        self._rows = list(rows)
        self._names = dict(names)
        self._reasons = dict(reasons or {})
        self.endResetModel()

    def message(self, row: int) -> OutboxMessage | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(Column(section)) if 0 <= section < len(Column) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        msg = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(msg, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(msg)
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.STATUS:
            return QColor(STATUS_COLOURS[msg.status])
        if role == Role.MESSAGE_ID:
            return msg.id
        if role == Role.STATUS:
            return str(msg.status)
        if role == Role.STOP_REF:
            return msg.stop_ref or ""
        if role == Role.AUTOMATIC:
            return msg.created_by.startswith(AUTO_PREFIX)
        if role == Role.SORT:
            return self._sort_key(msg, column)
        return None

    def _text(self, msg: OutboxMessage, column: Column) -> str:
        if column is Column.CUSTOMER:
            if msg.channel == "driver":
                return f"driver of {msg.address}"
            return self._names.get(msg.customer_id or -1, "") or "—"
        values = {
            Column.STOP: msg.stop_ref or "",
            Column.TEMPLATE: f"{msg.situation.replace('_', ' ')} v{msg.template_version}",
            Column.CHANNEL: msg.channel,
            Column.STATUS: str(msg.status),
            Column.CREATED: self._time(msg.created_at),
            Column.SENT: self._time(msg.delivered_at or msg.sent_at),
            Column.ATTEMPTS: str(msg.attempts),
            Column.ERROR: msg.last_error,
            Column.ADDRESS: msg.address,
            Column.TEXT: " ".join(msg.body.split()),
            Column.BY: msg.created_by,
            Column.SENT_BY: sent_by(msg.created_by, self._reasons.get(msg.id or -1, ("", ""))[1]),
        }
        return values[column]

    def _time(self, when: datetime | None) -> str:
        return display.current().clock(when.astimezone(self._tz), True) if when else ""

    def _tooltip(self, msg: OutboxMessage) -> str:
        lines = [f"{msg.template_id} v{msg.template_version} → {msg.address}"]
        if msg.subject:
            lines.append(f"Subject: {msg.subject}")
        lines.append(msg.body)
        if msg.status is OutboxStatus.QUEUED:
            lines.append(f"Leaves after {self._time(msg.next_attempt_at)}")
        if msg.last_error:
            lines.append(f"Last error: {msg.last_error}")
        if msg.created_by.startswith(AUTO_PREFIX):
            lines.append(f"Sent by: {self._text(msg, Column.SENT_BY)}")
        lines.append(f"Key: {msg.idempotency_key}")
        return "\n".join(lines)

    @staticmethod
    def _sort_key(msg: OutboxMessage, column: Column) -> Any:
        if column is Column.ATTEMPTS:
            return msg.attempts
        if column in (Column.CREATED, Column.SENT):
            when = msg.created_at if column is Column.CREATED else msg.delivered_at or msg.sent_at
            return when.timestamp() if when else 0.0
        return None


class OutboxFilter(QSortFilterProxyModel):
    """Status, stop and text filters over :class:`OutboxModel`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._status: str = ""
        self._stop_ref: str | None = None
        self._auto_only = False
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.setSortRole(Role.SORT)

    def set_status(self, status: str) -> None:
        """``""`` for every status."""
        self.beginFilterChange()
        self._status = status
        self.endFilterChange()

    def set_stop_ref(self, stop_ref: str | None) -> None:
        """Only this stop's messages (the per-stop history); ``None`` for all."""
        self.beginFilterChange()
        self._stop_ref = stop_ref
        self.endFilterChange()

    def set_auto_only(self, on: bool) -> None:
        """Only what the automation sent (``auto:<trigger>`` rows)."""
        self.beginFilterChange()
        self._auto_only = bool(on)
        self.endFilterChange()

    @property
    def auto_only(self) -> bool:
        return self._auto_only

    @property
    def stop_ref(self) -> str | None:
        return self._stop_ref

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        if self._status and index.data(Role.STATUS) != self._status:
            return False
        if self._stop_ref is not None and index.data(Role.STOP_REF) != self._stop_ref:
            return False
        if self._auto_only and not index.data(Role.AUTOMATIC):
            return False
        return super().filterAcceptsRow(source_row, source_parent)

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(Role.SORT), right.data(Role.SORT)
        if a is not None and b is not None:
            return bool(a < b)
        return str(left.data()) < str(right.data())
