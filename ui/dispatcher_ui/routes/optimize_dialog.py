"""Optimize a route or the fleet without freezing the window, then preview before applying.

OR-Tools keeps the GIL during a search, so the solve runs in a child process
(:func:`~dispatcher.planning.worker.optimize_in_subprocess`) waited on by a pool thread
(:func:`dispatcher_ui.workers.run_in_background`). Progress crosses back by a queued signal; Cancel
sets an event the child checks at every solution. The result is only a preview: the dispatcher
applies it (one undoable command, saved and sent to the vehicles) or discards it.

The preview shows its numbers in a table (one row per vehicle, with the vehicle's colour) and
the routes on a small map beside it (:mod:`dispatcher_ui.routes.preview_map`): proposed, current or
both, the stops that move marked; picking a row zooms the map to that vehicle and numbers its stops.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dispatcher import display
from dispatcher.clock import system_monotonic
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.planning.optimize import OptimizationResult
    from dispatcher_ui.routes.host import BoardsHost
    from dispatcher_ui.routes.preview_map import PreviewMap

ROUTE_TIME_LIMIT_S = 2.0
FLEET_TIME_LIMIT_S = 10.0
ENGINE_NAMES = {
    "pyvrp": "PyVRP",
    "ortools": "OR-Tools",
    "local": "local search",
}
"""How the preview names the engine whose plan it shows (docs/planning.md)."""


class _Progress(QObject):
    """Carries the solver's progress from the pool thread to the GUI thread."""

    reported = Signal(float, float)


class OptimizeDialog(QDialog):
    """Progress with Cancel while solving; then before/after, moved stops, Apply/Discard."""

    def __init__(self, panel: BoardsHost, vehicle_id: str | None, time_limit_s: float) -> None:
        super().__init__(panel)
        self.panel = panel
        self.vehicle_id = vehicle_id
        self.time_limit_s = time_limit_s
        self.cancel_event = threading.Event()
        self.outcome: OptimizationResult | None = None
        self.error: Exception | None = None
        self.applied = False
        what = f"route of {vehicle_id}" if vehicle_id else "whole fleet"
        self.setWindowTitle(f"Optimize {what}")
        self.setMinimumWidth(560)
        self.status = QLabel(f"Optimizing the {what}…")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            ["Vehicle", display.current().distance_unit, "duration", "late", "overtime", "changes"]
        )
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_row)
        self.moved = QLabel("")
        self.moved.setWordWrap(True)
        #: The routes on a map (created with the result: no web page while solving).
        self.map: PreviewMap | None = None
        self.map_modes = QButtonGroup(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.moved)
        self.splitter.addWidget(left)
        self.splitter.hide()
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(
            "Cancel", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.apply_button: QPushButton = self.buttons.addButton(
            "Apply", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.apply_button.hide()
        self.cancel_button.clicked.connect(self._cancel_or_discard)
        self.apply_button.clicked.connect(self.apply)
        layout = QVBoxLayout(self)
        for w in (self.status, self.bar):
            layout.addWidget(w)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.buttons)
        self.finished.connect(self._release_map)
        self._progress = _Progress(self)
        self._progress.reported.connect(self._on_progress)
        self._started = system_monotonic()

    # --- running --------------------------------------------------------------------------
    def start(self) -> None:
        from dispatcher.planning.optimize import OptimizeOptions
        from dispatcher.planning.worker import optimize_in_subprocess

        c = self.panel.controller
        if c.day is None or c.pm is None:
            self.status.setText("Nothing to optimize: no routes are loaded.")
            return
        plan, pm = c.day.plan.copy(), c.pm
        ids = (self.vehicle_id,) if self.vehicle_id else None
        options = OptimizeOptions(time_limit_s=self.time_limit_s, vehicle_ids=ids)
        emit = self._progress.reported.emit

        def solve() -> OptimizationResult:
            return optimize_in_subprocess(plan, pm, options, self.cancel_event, emit)

        self._started = system_monotonic()
        run_in_background(solve, self._on_done, self._on_error)

    def _on_progress(self, best: float, elapsed: float) -> None:
        share = min(99, int(100 * elapsed / max(self.time_limit_s, 0.1)))
        self.bar.setValue(share)
        self.status.setText(f"Optimizing… best plan so far costs {best:,.0f} ({elapsed:.1f} s)")

    def _on_error(self, exc: Exception) -> None:
        self.error = exc
        self.bar.hide()
        self.status.setText(f"The optimizer failed: {exc}")
        self.cancel_button.setText("Close")

    def _on_done(self, result: OptimizationResult) -> None:
        self.outcome = result
        self.bar.setValue(100)
        self.bar.hide()
        stopped = " (cancelled: best plan found so far)" if result.cancelled else ""
        name = ENGINE_NAMES.get(result.engine, result.engine)
        how = f"found by {name}, {result.elapsed_s:.1f} s"
        if result.converged:  # a small day: no point waiting for the whole limit
            how += f" (converged; limit {self.time_limit_s:g} s)"
        self.status.setText(
            f"<b>{result.summary()}</b>{stopped} <span style='color:#888'>· {how}</span>"
        )
        problems = result.problems()
        if self.vehicle_id is not None or len(result.moved) <= 8:
            text = "Stops that move: " + (", ".join(self._ref(s) for s in result.moved) or "none")
        else:  # a whole fleet: per vehicle in the table, not a wall of order numbers
            text = f"{len(result.moved)} stops move; what changes on each vehicle is in the table."
        if problems:
            text += "<br><span style='color:#e04646'>" + "; ".join(problems[:6]) + "</span>"
        self.moved.setText(text)
        self._fill_table(result)
        self._show_map(result)
        self.apply_button.setVisible(bool(result.moved) and result.honours_locks)
        self.cancel_button.setText("Discard")

    def _fill_table(self, result: OptimizationResult) -> None:
        vids = [v for v in result.after.routes if v in result.routes]
        day = self.panel.controller.day
        changes = result.changes_by_vehicle(day.plan.routes if day is not None else {})
        self.table.setRowCount(len(vids))
        figure = display.current().distance_figure  # the unit is in the column's heading
        colours = self.colours()
        for row, vid in enumerate(vids):
            b, a = result.before.routes[vid], result.after.routes[vid]
            cells = [
                vid,
                f"{figure(b.distance)} → {figure(a.distance)}",
                f"{b.duration / 60:.0f} → {a.duration / 60:.0f} min",
                f"{b.late_stops} → {a.late_stops}",
                f"{b.overtime / 60:.0f} → {a.overtime / 60:.0f} min",
                changes.get(vid, ""),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:  # the vehicle's colour on the map, and its id for a click
                    item.setData(Qt.ItemDataRole.DecorationRole, QColor(colours.get(vid, "#888")))
                    item.setData(Qt.ItemDataRole.UserRole, vid)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        # Room for up to 8 vehicles without scrolling; the dialog grows to show them.
        visible = min(len(vids), 8)
        row_h = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(self.table.horizontalHeader().height() + visible * row_h + 4)
        self.splitter.show()

    def colours(self) -> dict[str, str]:
        """Each vehicle's colour in the table and on the map (the boards' vehicle order)."""
        from dispatcher_ui.routes.preview_map import PREVIEW_COLOURS

        day = self.panel.controller.day
        result = self.outcome
        if day is None or result is None:
            return {}
        vids = [v for v in day.plan.routes if v in result.routes]
        return {v: PREVIEW_COLOURS[k % len(PREVIEW_COLOURS)] for k, v in enumerate(vids)}

    def _show_map(self, result: OptimizationResult) -> None:
        """The proposed routes on a map beside the table (the day must still be loaded)."""
        from dispatcher.maps.optimize_preview import preview_payload
        from dispatcher_ui.routes.preview_map import PREVIEW_COLOURS, PreviewMap

        day = self.panel.controller.day
        if day is None or not result.routes:
            self.adjustSize()
            return
        if self.map is None:
            self.map = PreviewMap()
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            modes = QHBoxLayout()
            modes.addWidget(QLabel("Map:"))
            for i, (key, text) in enumerate(
                (("after", "&Proposed"), ("before", "C&urrent"), ("both", "&Both"))
            ):
                button = QRadioButton(text)
                button.setObjectName(f"preview_{key}")
                button.setChecked(i == 0)
                button.toggled.connect(lambda on, k=key: self._set_mode(k, on))
                self.map_modes.addButton(button, i)
                modes.addWidget(button)
            modes.addStretch(1)
            column.addLayout(modes)
            column.addWidget(self.map, 1)
            self.splitter.addWidget(box)
            self.splitter.setStretchFactor(1, 1)
        payload = preview_payload(day, result, PREVIEW_COLOURS, whole_fleet=self.vehicle_id is None)
        self.map.show_payload(payload)
        # The table whole (no column cut), the map the rest: at least 480 px of it.
        header = self.table.horizontalHeader()
        table_w = header.length() + self.table.frameWidth() * 2 + 4
        if self.table.verticalScrollBar().isVisible() or len(result.routes) > 8:
            table_w += self.table.verticalScrollBar().sizeHint().width()
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        most = screen.width() - 40 if screen is not None else 1600
        width = min(max(self.width(), table_w + 640), most)
        self.resize(width, max(self.height(), 620))
        self.splitter.setSizes([table_w, max(480, width - table_w)])

    def _set_mode(self, mode: str, on: bool = True) -> None:
        if on and self.map is not None:
            self.map.set_mode(mode)

    def _on_row(self) -> None:
        """A picked row zooms the map to that vehicle and numbers its stops."""
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        vid = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if self.map is not None:
            self.map.focus(vid if isinstance(vid, str) else None)

    def _release_map(self) -> None:
        """The dialog closed: drop the web page (a dialog is kept for the last preview)."""
        if self.map is not None:
            self.map.release()
            self.map.setParent(None)
            self.map.deleteLater()
            self.map = None

    def _ref(self, sid: str) -> str:
        day = self.panel.controller.day
        return day.stops[sid].order_ref if day is not None and sid in day.stops else sid

    # --- the dispatcher's choice ------------------------------------------------------------
    def apply(self) -> None:
        """Apply the preview as one undoable change (saved, sent to the vehicles)."""
        if self.outcome is None:
            return
        self.applied = self.panel.controller.execute(self.outcome.command(), "Optimized")
        if self.applied:
            self.accept()
        else:
            self.status.setText(
                "Not applied: the routes changed while optimizing. Close and optimize again."
            )
            self.apply_button.hide()

    def _cancel_or_discard(self) -> None:
        if self.outcome is None and self.error is None:
            self.cancel_event.set()
            self.status.setText("Cancelling…")
            return
        self.reject()

    def reject(self) -> None:
        self.cancel_event.set()
        super().reject()


def start_optimization(panel: BoardsHost, vehicle_id: str | None) -> OptimizeDialog:
    """Open the dialog and start solving; the window stays responsive meanwhile."""
    limits: Any = panel.controller.core.settings.sections.get("planning", {})
    key = "route_time_limit_s" if vehicle_id else "fleet_time_limit_s"
    default = ROUTE_TIME_LIMIT_S if vehicle_id else FLEET_TIME_LIMIT_S
    try:
        limit = float(limits.get(key, default))
    except (TypeError, ValueError, AttributeError):
        limit = default
    dialog = OptimizeDialog(panel, vehicle_id, limit if limit > 0 else default)
    panel.last_optimize_dialog = dialog
    dialog.show()
    dialog.start()
    return dialog
