"""KPI trends: a period (day, week, month) of planned-vs-actual, cost and CO₂e by group.

A non-modal window: the period picker (kind, date, ◀ ▶), the grouping (fleet, vehicle,
driver, depot, area), a table of the period's totals per group, a trend chart of one figure
per day, and an export of the period (CSV and a self-contained HTML report) into a folder.
Everything is read and computed off the GUI thread (:func:`dispatcher.kpi.period.
load_period`, which also rolls up finished days that are missing); the window only draws.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from dispatcher.errors import DispatcherError
from dispatcher.kpi.period import Period, PeriodFigures, columns, load_period, shift, value
from dispatcher.model.route_kpi import DIMENSIONS, PeriodRow
from dispatcher.reports import period as export
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

#: The figures the trend chart can show: (label, attribute).
TREND_FIGURES = (
    ("On time %", "on_time_pct"),
    ("First-attempt success %", "first_attempt_pct"),
    ("Actual km", "actual_km"),
    ("Km vs plan %", "km_vs_plan_pct"),
    ("Cost", "cost"),
    ("Cost per parcel", "cost_per_parcel"),
    ("CO2e kg", "co2e_kg"),
    ("Avg customer rating", "avg_rating"),
    ("Customer ratings", "ratings"),
)
#: At most this many groups get a line of their own (the largest by routes).
MAX_LINES = 8
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


class PeriodDialog(QDialog):
    """The KPI trends window of one main window."""

    def __init__(self, window: Shell) -> None:
        super().__init__(window)
        self.setWindowTitle("KPI trends")
        self.resize(1100, 700)
        self._window = window
        self.period: Period | None = None
        self.loading = False
        self.kind = QComboBox()
        self.kind.addItems(["Day", "Week", "Month"])
        self.kind.setCurrentText("Month")
        self.anchor = QDateEdit()
        self.anchor.setCalendarPopup(True)
        self.anchor.setDisplayFormat("yyyy-MM-dd")
        self.previous = QPushButton("◀")
        self.previous.setToolTip("Previous period")
        self.next = QPushButton("▶")
        self.next.setToolTip("Next period")
        self.group = QComboBox()
        self.group.addItems([d.capitalize() for d in DIMENSIONS])
        self.figure = QComboBox()
        self.figure.addItems([label for label, _ in TREND_FIGURES])
        self.refresh_button = QPushButton("&Refresh")
        self.export_button = QPushButton("&Export…")
        self.export_button.setToolTip("Write the period as CSV and as an HTML report")
        self.status = QLabel("")
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend(offset=(10, 10))
        self.plot.setLabel("bottom", "day of the period")

        bar = QHBoxLayout()
        for widget in (
            QLabel("Period"),
            self.kind,
            self.previous,
            self.anchor,
            self.next,
            QLabel("by"),
            self.group,
            QLabel("Trend of"),
            self.figure,
            self.refresh_button,
            self.export_button,
        ):
            bar.addWidget(widget)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.table, 3)

        today = window.service_day or window.core.clock.now().astimezone(self._tz()).date()
        self.anchor.setDate(QDate(today.year, today.month, today.day))
        self.previous.clicked.connect(lambda: self.step(-1))
        self.next.clicked.connect(lambda: self.step(1))
        self.refresh_button.clicked.connect(self.refresh)
        self.kind.currentTextChanged.connect(lambda _t: self.refresh())
        self.group.currentTextChanged.connect(lambda _t: self.refresh())
        self.anchor.dateChanged.connect(lambda _d: self.refresh())
        self.figure.currentTextChanged.connect(lambda _t: self.draw_trend())
        self.export_button.clicked.connect(self.export_dialog)

    def _tz(self) -> ZoneInfo:
        return self._window.routes_model.timezone

    def selected_anchor(self) -> date:
        d = self.anchor.date()
        return date(d.year(), d.month(), d.day())

    def step(self, steps: int) -> None:
        moved = shift(self.kind.currentText().lower(), self.selected_anchor(), steps)
        self.anchor.setDate(QDate(moved.year, moved.month, moved.day))

    def refresh(self) -> None:
        """Load the chosen period off the GUI thread (the rollup of missing days included)."""
        core, tz = self._window.core, self._tz()
        kind, anchor = self.kind.currentText().lower(), self.selected_anchor()
        group, now = self.group.currentText().lower(), core.clock.now()
        self.loading = True
        self.status.setText(f"Loading the {kind} of {anchor}…")

        def done(period: Period) -> None:
            if shiboken6.isValid(self):
                self.loading = False
                self.show_period(period)

        def failed(exc: Exception) -> None:
            if shiboken6.isValid(self):
                self.loading = False
                text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
                self.status.setText(f"Could not load the period: {text}")

        run_in_background(lambda: load_period(core.db, tz, kind, anchor, group, now), done, failed)

    def show_period(self, period: Period) -> None:
        self.period = period
        total = period.fleet_total()
        if total is None:
            self.status.setText(f"{period.start} – {period.end}: no routes.")
        else:
            r = total.row
            on_time = "–" if total.on_time_pct is None else f"{total.on_time_pct:.1f} %"
            self.status.setText(
                f"{period.start} – {period.end}: {r.routes} routes, {r.actual_km:.0f} km "
                f"(planned {r.planned_km:.0f}), on time {on_time}, cost {r.cost:.2f}, "
                f"{r.co2e_kg:.1f} kg CO2e, {r.parcels} parcels"
            )
        self.fill_table(period.totals)
        self.draw_trend()

    def fill_table(self, rows: tuple[PeriodRow, ...]) -> None:
        heads = [self.group.currentText(), *(h for h, _ in columns())]
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            figures = PeriodFigures(row)
            self.table.setItem(i, 0, QTableWidgetItem(row.key or "fleet"))
            for j, (_h, attr) in enumerate(columns(), start=1):
                number = value(figures, attr)
                item = QTableWidgetItem()
                if number is not None:
                    item.setData(Qt.ItemDataRole.DisplayRole, round(float(number), 2))
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()

    def draw_trend(self) -> None:
        self.plot.clear()
        period = self.period
        if period is None or not period.trend:
            return
        label, attr = TREND_FIGURES[self.figure.currentIndex()]
        self.plot.setLabel("left", label)
        size: dict[str, int] = {}
        for row in period.trend:
            size[row.key] = size.get(row.key, 0) + row.routes
        keys = sorted(size, key=lambda k: (-size[k], k))[:MAX_LINES]
        for colour, key in zip(COLOURS, keys, strict=False):
            points = [
                ((r.bucket - period.start).days + 1, value(PeriodFigures(r), attr))
                for r in period.trend
                if r.key == key
            ]
            xs = [float(x) for x, y in points if y is not None]
            ys = [float(y) for _x, y in points if y is not None]
            self.plot.plot(
                xs, ys, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                symbolBrush=colour, name=key or "fleet",
            )  # fmt: skip

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the KPI period into folder")
        if folder:
            self.export_to(Path(folder))

    def export_to(self, folder: Path) -> None:
        """Write the CSV and the HTML report of the shown period off the GUI thread."""
        period = self.period
        if period is None:
            self.status.setText("Nothing to export yet: load a period first.")
            return
        stem = f"kpi-{period.kind}-{period.start.isoformat()}-{period.dimension}"

        def write() -> tuple[Path, Path]:
            return (
                export.write_csv(period, folder / f"{stem}.csv"),
                export.write_html(period, folder / f"{stem}.html"),
            )

        def done(paths: tuple[Path, Path]) -> None:
            if shiboken6.isValid(self):
                self.last_export = paths
                self.status.setText(f"Exported {paths[0].name} and {paths[1].name} to {folder}")

        def failed(exc: Exception) -> None:
            if shiboken6.isValid(self):
                self.status.setText(f"Could not export: {exc}")

        run_in_background(write, done, failed)


def open_period_view(window: Shell) -> PeriodDialog:
    """Show the window's KPI trends (one per window) and load the period."""
    dialog = getattr(window, "period_dialog", None)
    if not isinstance(dialog, PeriodDialog) or not shiboken6.isValid(dialog):
        dialog = PeriodDialog(window)
        window.period_dialog = dialog
    dialog.show()
    dialog.raise_()
    dialog.refresh()
    return dialog


def add_action(window: Shell) -> None:
    """History > KPI trends… (the menu of looking back)."""
    menu = window.menu("Histor&y")
    window._action(
        menu,
        "KPI &trends…",
        lambda: open_period_view(window),
        help="KPI trends: planned vs actual, cost and CO2e by day, week or month",
    )
