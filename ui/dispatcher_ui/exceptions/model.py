"""Qt adapters over the exception queue: a table model and the filter proxy.

The model holds the alerts as the core listed them (most urgent first: the source row order
*is* the priority order) and shows time-dependent cells (age, SLA countdown) against the
house clock, so a refresh of those columns is a ``dataChanged``, not a reload.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from dispatcher.alerts.priority import minutes_left
from dispatcher.model.alerts import Alert, AlertKind, AlertStatus, Severity
from dispatcher_ui.themes import STATUS_COLOURS

AnyIndex = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    SEVERITY = 0
    KIND = 1
    VEHICLE = 2
    STOP = 3
    AGE = 4
    SLA = 5
    STATUS = 6
    ASSIGNEE = 7
    TITLE = 8


HEADERS = {
    Column.SEVERITY: "Severity",
    Column.KIND: "Kind",
    Column.VEHICLE: "Vehicle",
    Column.STOP: "Customer / stop",
    Column.AGE: "Age",
    Column.SLA: "SLA",
    Column.STATUS: "Status",
    Column.ASSIGNEE: "Assignee",
    Column.TITLE: "What",
}


class Role(enum.IntEnum):
    ALERT = Qt.ItemDataRole.UserRole + 1
    ALERT_ID = Qt.ItemDataRole.UserRole + 2
    SORT = Qt.ItemDataRole.UserRole + 3
    PRIORITY = Qt.ItemDataRole.UserRole + 4


#: One colour scheme with the map and the boards (ui/dispatcher_ui/themes.py): high and critical are
#: the red of "late", medium the amber of "at risk", low the grey of "offline".
SEVERITY_COLOURS = {
    Severity.CRITICAL: STATUS_COLOURS["late"],
    Severity.HIGH: STATUS_COLOURS["late"],
    Severity.MEDIUM: STATUS_COLOURS["at_risk"],
    Severity.LOW: STATUS_COLOURS["offline"],
}

KIND_LABELS = {k: k.value.replace("_", " ") for k in AlertKind}


def age_text(seconds: float) -> str:
    """``42s``, ``7m``, ``2h05`` — short enough for a narrow column."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}"


def sla_text(left_min: float | None) -> str:
    """Minutes left before the customer is hurt: ``12m``, ``-5m`` once overdue, ``-``."""
    if left_min is None:
        return "–"
    if abs(left_min) >= 120:
        return f"{left_min / 60:+.1f}h".replace("+", "")
    return f"{left_min:.0f}m"


#: More insertions and removals than this in one reload: a reset is cheaper than the signals.
MAX_EDITS = 40


def _edits(
    old: list[int | None], new: list[int | None]
) -> list[tuple[str, int, int, int, int]] | None:
    """The opcodes that turn ``old`` into ``new`` (alert ids), or None for "reset"."""
    if None in old or None in new:
        return None
    if old == new:
        return [("equal", 0, len(old), 0, len(new))] if old else []
    opcodes = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    if sum(1 for op in opcodes if op[0] != "equal") > MAX_EDITS:
        return None
    return [(str(tag), i1, i2, j1, j2) for tag, i1, i2, j1, j2 in opcodes]


class AlertsModel(QAbstractTableModel):
    """The queue as a table. ``set_alerts`` updates the rows by a diff; cells read the clock.

    Args:
        now: The house clock's ``now`` (the demo's runs faster than the wall).
        vehicle_names: Vehicle id -> what dispatchers call it.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        vehicle_names: dict[str, str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._now = now
        self._alerts: list[Alert] = []
        #: Alert id -> the state being saved (optimistic): shown until the save ends.
        self.pending: dict[int, Alert] = {}
        self.vehicle_names = dict(vehicle_names or {})

    # -- content -------------------------------------------------------------------------

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """Show ``alerts`` (in priority order): by a diff against the rows shown.

        Alerts that came or went are inserted or removed where they are, the rows that stayed
        and changed get ``dataChanged``; the view keeps its selection and scroll position.
        A reset (every row filtered again, in Python, and the view laid out afresh) happened
        at each reload, which at 500 vehicles is every few seconds (bench/console.py). Alerts
        without an id, or a list reordered beyond :data:`MAX_EDITS` edits, reset.
        """
        # a save in flight wins over a read that may predate it
        new = [self.pending.get(a.id, a) if a.id is not None else a for a in alerts]
        edits = _edits([a.id for a in self._alerts], [a.id for a in new])
        if edits is None:
            self.beginResetModel()
            self._alerts = new
            self.endResetModel()
            return
        for tag, i1, i2, j1, j2 in reversed(edits):  # from the end: rows before keep their place
            if tag == "equal":
                changed = [k for k in range(i2 - i1) if self._alerts[i1 + k] != new[j1 + k]]
                self._alerts[i1:i2] = new[j1:j2]
                if changed:
                    last = len(Column) - 1
                    top, bottom = i1 + changed[0], i1 + changed[-1]
                    self.dataChanged.emit(self.index(top, 0), self.index(bottom, last))
                continue
            if i2 > i1:  # "delete", or the old half of "replace"
                self.beginRemoveRows(QModelIndex(), i1, i2 - 1)
                del self._alerts[i1:i2]
                self.endRemoveRows()
            if j2 > j1:  # "insert", or the new half of "replace"
                self.beginInsertRows(QModelIndex(), i1, i1 + j2 - j1 - 1)
                self._alerts[i1:i1] = new[j1:j2]
                self.endInsertRows()

    def show_pending(self, alert: Alert) -> None:
        """Show ``alert`` (the state a command is saving) in its row, marked "saving…"."""
        assert alert.id is not None
        self.pending[alert.id] = alert
        self._replace(alert)

    def settle(self, alert_id: int, alert: Alert | None) -> None:
        """The save ended: show ``alert`` (the stored state, or the row before) unmarked."""
        self.pending.pop(alert_id, None)
        if alert is not None:
            self._replace(alert)

    def _replace(self, alert: Alert) -> None:
        row = self.row_of(alert.id) if alert.id is not None else None
        if row is not None:
            self._alerts[row] = alert
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def alerts(self) -> list[Alert]:
        return list(self._alerts)

    def alert_at(self, row: int) -> Alert | None:
        return self._alerts[row] if 0 <= row < len(self._alerts) else None

    def row_of(self, alert_id: int) -> int | None:
        return next((i for i, a in enumerate(self._alerts) if a.id == alert_id), None)

    def refresh_clock_columns(self) -> None:
        """Age and SLA move with the clock: repaint just those cells."""
        if self._alerts:
            top, bottom = self.index(0, Column.AGE), self.index(len(self._alerts) - 1, Column.SLA)
            self.dataChanged.emit(top, bottom, [Qt.ItemDataRole.DisplayRole])

    # -- Qt interface ------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._alerts)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(Column(section)) if 0 <= section < len(Column) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._alerts):
            return None
        alert = self._alerts[index.row()]
        column = Column(index.column())
        if role == Role.ALERT:
            return alert
        if role == Role.ALERT_ID:
            return alert.id
        if role == Role.PRIORITY:
            return index.row()
        if role == Role.SORT:
            return self._sort_value(alert, column, index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(alert, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return alert.title
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.SEVERITY:
            return QBrush(QColor(SEVERITY_COLOURS[alert.severity]))
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.SLA:
            left = minutes_left(alert, self._now())
            if left is not None and left < 0:
                return QBrush(QColor(SEVERITY_COLOURS[Severity.CRITICAL]))
        if role == Qt.ItemDataRole.FontRole and alert.status is AlertStatus.NEW:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    def _display(self, alert: Alert, column: Column) -> str:
        now = self._now()
        if column is Column.SEVERITY:
            return alert.severity.name.capitalize()
        if column is Column.KIND:
            return KIND_LABELS[alert.kind] + (f" ×{alert.count}" if alert.count > 1 else "")
        if column is Column.VEHICLE:
            vid = alert.vehicle_id or ""
            return self.vehicle_names.get(vid, vid)
        if column is Column.STOP:
            # the order number, as the boards show it; the internal id only without one
            customer = str(alert.details.get("customer") or "")
            order = str(alert.details.get("order") or "")
            stop = order or (f"#{alert.stop_id}" if alert.stop_id else "")
            return " · ".join(p for p in (customer, stop) if p)
        if column is Column.AGE:
            return age_text((now - alert.opened_at).total_seconds())
        if column is Column.SLA:
            return sla_text(minutes_left(alert, now))
        if column is Column.STATUS:
            saving = alert.id is not None and alert.id in self.pending
            return alert.status.value + (" · saving…" if saving else "")
        if column is Column.ASSIGNEE:
            return alert.assignee or ""
        return alert.title

    def _sort_value(self, alert: Alert, column: Column, row: int) -> Any:
        now = self._now()
        if column is Column.SEVERITY:
            return -int(alert.severity)
        if column is Column.AGE:
            return -(now - alert.opened_at).total_seconds()
        if column is Column.SLA:
            left = minutes_left(alert, now)
            return float("inf") if left is None else left
        return self._display(alert, column).lower()


class AlertsFilter(QSortFilterProxyModel):
    """Filters of the queue: mine, unassigned, escalated, kind, minimum severity.

    Unsorted (``sort(-1)``), rows keep the source order, which is the priority order.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(Role.SORT)
        self.user_id: str | None = None
        self.mine = False
        self.unassigned = False
        self.escalated = False
        self.kind: AlertKind | None = None
        self.min_severity: Severity | None = None

    def set_filters(self, **values: Any) -> None:
        """Change any of ``mine``, ``unassigned``, ``escalated``, ``kind``, ``min_severity``."""
        for name, value in values.items():
            if not hasattr(self, name):
                raise AttributeError(f"unknown filter {name!r}")
            setattr(self, name, value)
        self.beginFilterChange()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, AlertsModel):
            return True
        alert = model.alert_at(source_row)
        if alert is None:
            return False
        checks = (
            not self.mine or (self.user_id is not None and alert.assignee == self.user_id),
            not self.unassigned or alert.assignee is None,
            not self.escalated or alert.status is AlertStatus.ESCALATED,
            self.kind is None or alert.kind is self.kind,
            self.min_severity is None or alert.severity >= self.min_severity,
        )
        return all(checks)
