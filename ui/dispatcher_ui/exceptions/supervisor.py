"""The supervisor view: escalations, what was resolved today and by whom, how fast, CSV.

A dialog over :meth:`AlertDesk.supervisor_stats`; the figures are the core's
(:mod:`dispatcher.alerts.stats`), this only lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.alerts.desk import AlertDesk
from dispatcher.alerts.stats import DurationStats, write_stats_csv
from dispatcher.model.alerts import Alert


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(str(value)))
    table.horizontalHeader().setStretchLastSection(True)
    table.resizeColumnsToContents()
    return table


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _durations(table: Mapping[str, DurationStats]) -> list[list[object]]:
    return [
        [key, d.count, _minutes(d.mean_s), _minutes(d.median_s), _minutes(d.max_s)]
        for key, d in table.items()
    ]


class SupervisorDialog(QDialog):
    """Tabs: escalations, resolved today, time to acknowledge, time to resolve."""

    def __init__(self, desk: AlertDesk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Exceptions — supervisor view")
        self.resize(820, 520)
        self.desk = desk
        self.stats, self.escalated = desk.supervisor_stats()
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self._fill()
        layout.addWidget(self.tabs)
        export = QPushButton("Export CSV…")
        export.clicked.connect(self.export_csv)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(export, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _fill(self) -> None:
        s, tz = self.stats, self.desk.timezone
        esc_rows = [
            [a.id, a.kind.value, a.title, a.escalated_by or "", _clock(a, tz), a.status.value]
            for a in self.escalated
        ]
        self.tabs.addTab(
            _table(["#", "Kind", "What", "Escalated by", "At", "Status"], esc_rows), "Escalations"
        )
        resolved = [[user, n] for user, n in s.resolved_today_by.items()]
        resolved += [["(auto-resolved)", s.auto_resolved_today], ["(dismissed)", s.dismissed_today]]
        self.tabs.addTab(_table(["Who", "Resolved today"], resolved), "Resolved today")
        heads = ["Key", "Count", "Mean min", "Median min", "Max min"]
        for title, table in (
            ("Ack by dispatcher", s.tta_by_user),
            ("Ack by kind", s.tta_by_kind),
            ("Resolve by dispatcher", s.ttr_by_user),
            ("Resolve by kind", s.ttr_by_kind),
        ):
            widget = _table(heads, _durations(table)) if table else QLabel("Nothing yet today.")
            self.tabs.addTab(widget, title)

    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the figures as CSV (asks where unless ``path`` is given)."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export figures", "exceptions-figures.csv", "CSV files (*.csv)"
            )
            if not name:
                return None
            path = Path(name)
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                write_stats_csv(self.stats, out)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}: {exc}")
            return None
        return path


def _clock(alert: Alert, tz: tzinfo) -> str:
    return display.current().clock(alert.escalated_at.astimezone(tz)) if alert.escalated_at else ""
