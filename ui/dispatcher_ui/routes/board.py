"""One vehicle's board: a header with the route's totals above a drag-and-drop stop table."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QDragLeaveEvent, QDragMoveEvent, QDropEvent, QFocusEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableView,
    QVBoxLayout,
)

from dispatcher import display
from dispatcher.maps.jsbridge import escape_html
from dispatcher.planning.constraints import missing_skills, schedule_violations
from dispatcher.planning.dayplan import UNASSIGNED
from dispatcher_ui.routes.board_model import Column, VehicleBoardModel, decode_stop_ids
from dispatcher_ui.routes.controller import BoardController

#: The widest text each fixed column must show in full, whatever the rows hold now (a slack
#: that turns to "−120 min" or a stop that goes "in progress" must not be cut a tick later).
WIDEST = {
    Column.SEQ: "88",
    Column.WINDOW: "88:88–88:88",
    Column.ETA: "88:88",
    Column.SLACK: "−999 min",
    Column.LOAD: "8888",
    Column.STATUS: "in progress",
    Column.LOCKS: "pinned, kept",
}
#: Free-text columns grow with their content up to this many pixels (the rest is elided,
#: the row's tooltip has it all) and give way down to ``NARROWEST`` when the window is small.
WIDEST_TEXT = {Column.CUSTOMER: 190, Column.ADDRESS: 260}
NARROWEST = {Column.CUSTOMER: 90, Column.ADDRESS: 80}
#: In compact mode the customer column is shorter still, so two boards fit side by side on a
#: 1366-pixel screen.
COMPACT_CUSTOMER = 110
#: Compact mode keeps what a dispatcher scans for (who, when, how late, what state).
SECONDARY = (Column.ADDRESS, Column.WINDOW, Column.LOAD, Column.LOCKS)


class BoardTable(QTableView):
    """The stop table; tells its board when it gets the focus (keyboard actions follow)."""

    focused = Signal()
    #: While stops are dragged over the table: (stop ids, the row they would go before);
    #: ([], -1) when the drag leaves or drops.
    drag_over = Signal(list, int)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.focused.emit()
        super().focusInEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        super().dragMoveEvent(event)
        ids = decode_stop_ids(event.mimeData())
        if ids:
            self.drag_over.emit(ids, self.drop_row(event.position().toPoint()))

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drag_over.emit([], -1)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drag_over.emit([], -1)
        super().dropEvent(event)

    def drop_row(self, pos: QPoint) -> int:
        """The row a drop at ``pos`` goes before (as Qt's drop indicator shows it)."""
        index = self.indexAt(pos)
        if not index.isValid():
            return self.model().rowCount()
        below = pos.y() > self.visualRect(index).center().y()
        return index.row() + (1 if below else 0)


class VehicleBoard(QFrame):
    """Header (vehicle, driver, totals) and the table of its stops."""

    #: Emitted with (vehicle_id, stop_id) when the dispatcher selects a stop here.
    stop_selected = Signal(str, str)
    activated = Signal(object)

    def __init__(self, controller: BoardController, vehicle_id: str) -> None:
        super().__init__()
        self.controller = controller
        self.vehicle_id = vehicle_id
        self.setObjectName(f"board_{vehicle_id or 'unassigned'}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.compact = False
        #: Column widths that show every cell in full (see :meth:`fit_columns`).
        self._natural: dict[Column, int] = {}
        self._available: int | None = None
        #: Whether :meth:`apply_filter` hid a row (none hidden: an empty filter is free).
        self._rows_hidden = False
        self._hint: QSize | None = None  # sizeHint, until the columns are measured again
        self._chrome_px: int | None = None
        self.header = QLabel()
        #: Actual vs planned distance, cost and CO₂e (set by the KPI feed; "" until then).
        self.actual_text = ""
        self.header.setObjectName("boardHeader")
        #: What a drag over this board would break, shown before the drop (hidden otherwise).
        self.drop_warning = QLabel()
        self.drop_warning.setObjectName("dropWarning")
        self.drop_warning.setWordWrap(True)
        self.drop_warning.setStyleSheet("color: #e04646; font-weight: bold")
        self.drop_warning.hide()
        self._drag_key: tuple[tuple[str, ...], int] | None = None
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.model = VehicleBoardModel(controller, vehicle_id, self)
        self.table = BoardTable()
        self.table.setObjectName(f"boardTable_{vehicle_id or 'unassigned'}")
        self._setup_table()
        self.model.on_screen = lambda: not self.table.viewport().visibleRegion().isEmpty()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.addWidget(self.header)
        layout.addWidget(self.drop_warning)
        layout.addWidget(self.table)
        self.table.drag_over.connect(self._on_drag_over)
        self.model.confirm_drop = self.confirm_drop
        controller.routes_changed.connect(self._refresh_header)
        controller.times_changed.connect(self._refresh_header)
        # A reload or a live update resets the model: the dispatcher keeps the selection.
        self._kept: list[str] = []
        self._restoring = False
        self.model.modelAboutToBeReset.connect(self._keep_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.model.modelReset.connect(self.fit_columns)
        self._refresh_header()
        self.fit_columns()

    def _setup_table(self) -> None:
        t = self.table
        t.setModel(self.model)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        t.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        t.setDefaultDropAction(Qt.DropAction.MoveAction)
        t.setDragDropOverwriteMode(False)
        t.setDropIndicatorShown(True)
        t.setAlternatingRowColors(True)
        t.setWordWrap(False)
        t.verticalHeader().hide()
        t.verticalHeader().setDefaultSectionSize(21)
        t.horizontalHeader().setStretchLastSection(True)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        t.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        t.setTextElideMode(Qt.TextElideMode.ElideRight)
        t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        t.selectionModel().selectionChanged.connect(self._on_selection)
        t.focused.connect(lambda: self.activated.emit(self))

    # --- size: as wide as its content, as narrow as the window needs ---------------------
    def fit_columns(self) -> None:
        """Measure every column's natural width (header, cells, the widest text it may show)."""
        t = self.table
        metrics = t.fontMetrics()
        head = t.horizontalHeader().fontMetrics()
        pad = 12  # cell margins and the header's sort/elide room
        for col in Column:
            title = str(self.model.headerData(col, Qt.Orientation.Horizontal, 0))
            header_w = head.horizontalAdvance(title) + pad + 6
            texts = set(self.model.column_texts(col))  # times and states repeat a lot
            longest = max((metrics.horizontalAdvance(x) for x in texts), default=0)
            if col in WIDEST:  # what it may show, or more if a row already shows more
                width = max(metrics.horizontalAdvance(WIDEST[col]), longest) + pad
            else:
                cap = WIDEST_TEXT.get(col, longest + pad)
                if self.compact and col == Column.CUSTOMER:
                    cap = COMPACT_CUSTOMER
                width = min(longest + pad, cap)
            self._natural[col] = max(width, header_w)
            hide = self.compact and col in SECONDARY
            if t.isColumnHidden(col) != hide:  # each call re-lays the table out, 500 boards
                t.setColumnHidden(col, hide)
        self._hint = None
        self.fit_to(self._available)

    def shown_columns(self) -> list[Column]:
        return [c for c in Column if not (self.compact and c in SECONDARY)]

    def _chrome(self) -> int:
        """Pixels around the columns: frame, margins, the vertical scroll bar (asked of the
        style once: it was a fifth of a board's build)."""
        if self._chrome_px is None:
            bar = self.table.verticalScrollBar().sizeHint().width()
            self._chrome_px = 2 * self.table.frameWidth() + 2 * self.frameWidth() + 6 + bar + 2
        return self._chrome_px

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.Polish:  # the style's frames are known only now
            before, self._chrome_px = self._chrome_px, None
            if before is not None and before != self._chrome():
                self.fit_to(self._available)
        return handled

    def natural_width(self) -> int:
        """The board's width with every shown column in full."""
        return sum(self._natural[c] for c in self.shown_columns()) + self._chrome()

    def fit_to(self, available: int | None) -> None:
        """Take the natural width, or ``available`` when less: the free-text columns give way
        (customer last) so the times, slack and status stay whole."""
        self._available = available
        widths = {c: self._natural[c] for c in self.shown_columns()}
        target = self.natural_width() if available is None else min(available, self.natural_width())
        excess = sum(widths.values()) + self._chrome() - target
        for col in (Column.ADDRESS, Column.CUSTOMER):
            if excess <= 0 or col not in widths:
                continue
            give = min(excess, widths[col] - min(NARROWEST[col], widths[col]))
            widths[col] -= give
            excess -= give
        for col, width in widths.items():
            self.table.setColumnWidth(col, width)
        self.setFixedWidth(target)

    def set_compact(self, on: bool) -> None:
        """Show only the columns a dispatcher scans (compact) or all of them."""
        self.compact = on
        self.fit_columns()

    def sizeHint(self) -> QSize:
        # Asked for by the strip's layout for every board at every relayout: with 500 boards
        # the style queries of natural_width() held the GUI thread (bench/console.py).
        if self._hint is None:
            self._hint = QSize(self.natural_width(), super().sizeHint().height())
        return self._hint

    def pin_header(self, hidden_px: int) -> None:
        """Keep the vehicle's name in view while the board's left part is scrolled away."""
        offset = max(0, min(hidden_px, self.width() - 200))
        self.header.setContentsMargins(offset, 0, 0, 0)

    # --- what is shown --------------------------------------------------------------------
    def _refresh_header(self, *_: object) -> None:
        day = self.controller.day
        if self.vehicle_id == UNASSIGNED:
            n = len(self.controller.route(UNASSIGNED))
            self.header.setText(f"<b>Unassigned</b> · {n} stops — drag onto a vehicle")
            return
        info = day.vehicles.get(self.vehicle_id) if day is not None else None
        # Rich text: names come from imports and devices, so they go in as escaped text.
        name = escape_html(info.name if info is not None else self.vehicle_id)
        driver = f" · {escape_html(info.driver_name)}" if info and info.driver_name else ""
        vid = escape_html(self.vehicle_id)
        actual = f"<br><small>{escape_html(self.actual_text)}</small>" if self.actual_text else ""
        self.header.setText(f"<b>{name}</b> ({vid}){driver}<br>{self.totals_text()}{actual}")

    def set_actual(self, text: str) -> None:
        """Show the route's actual distance, cost and CO₂e (from the KPI feed) under its
        planned totals; ``""`` removes the line."""
        if text != self.actual_text:
            self.actual_text = text
            self._refresh_header()

    def totals_text(self) -> str:
        """Distance, duration, late stops, overtime and load problems of this route."""
        ev = self.controller.route_evaluation(self.vehicle_id)
        n = len(self.controller.route(self.vehicle_id))
        if ev is None:
            return f"{n} stops"
        hours, minutes = divmod(round(ev.duration / 60), 60)
        late = ev.late_stops
        late_text = f"<span style='color:#e04646'><b>{late} late</b></span>" if late else "0 late"
        parts = [
            f"{n} stops",
            display.current().distance(ev.distance),
            f"{hours} h {minutes:02d}",
            late_text,
        ]
        day = self.controller.day
        vehicle = day.plan.vehicles.get(self.vehicle_id) if day is not None else None
        if day is not None and vehicle is not None and vehicle.start_time is None and ev.stop_ids:
            # At the depot: when it leaves (as late as its first window allows), the ETAs' start.
            parts.insert(1, f"leaves {display.current().clock(day.clock_time(ev.start_time))}")
        if ev.overtime > 0:
            parts.append(f"<span style='color:#e04646'>{ev.overtime / 60:.0f} min overtime</span>")
        if ev.overload > 0:
            parts.append(f"<span style='color:#e04646'>over capacity by {ev.overload:g}</span>")
        if ev.shortfall > 0:
            parts.append(f"<span style='color:#e04646'>{ev.shortfall:g} not on board</span>")
        if day is not None and ev.break_start is not None:
            when = display.current().clock(day.clock_time(ev.break_start))
            parts.append(f"break {when}")
        if day is not None:
            route = self.controller.route(self.vehicle_id)
            for problem in schedule_violations(self.vehicle_id, ev):
                if "over capacity" not in problem:  # said above
                    text = escape_html(problem.split(": ", 1)[-1])
                    parts.append(f"<span style='color:#e04646'>{text}</span>")
            vehicle = day.plan.vehicles.get(self.vehicle_id)
            lacking = sorted(
                {k for sid in route for k in missing_skills(vehicle, day.plan.stops[sid])}
                if vehicle is not None
                else set()
            )
            if lacking:  # only this route's stops: the header is redrawn on every refresh
                text = escape_html(f"lacks {', '.join(lacking)}")
                parts.append(f"<span style='color:#e04646'>{text}</span>")
        return " · ".join(parts)

    # --- constraints on a drop -------------------------------------------------------------
    def _on_drag_over(self, stop_ids: list[str], row: int) -> None:
        """Say what the drop here would break while the stops are still being dragged (checked
        again only when the row under the pointer changes, not on every mouse move)."""
        key = (tuple(stop_ids), row)
        if key == self._drag_key:
            return
        self._drag_key = key
        problems = (
            self.controller.drop_violations(stop_ids, self.vehicle_id, row) if stop_ids else []
        )
        self.drop_warning.setText("Dropping here: " + "; ".join(problems) if problems else "")
        self.drop_warning.setVisible(bool(problems))

    def confirm_drop(self, problems: list[str]) -> bool:
        """Ask before a drop that breaks a constraint; the default answer keeps the plan."""
        box = QMessageBox(self)
        box.setObjectName("confirmDrop")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Drop anyway?")
        box.setText("This drop would break:")
        box.setInformativeText("\n".join(f"• {p}" for p in problems))
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Drop anyway")
        return box.exec() == QMessageBox.StandardButton.Yes

    # --- selection ------------------------------------------------------------------------
    def selected_stop_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.stop_id(r) for r in rows if r < self.model.rowCount()]

    def select_stops(self, stop_ids: list[str], *, scroll: bool = True) -> None:
        """Select these stops (those on this board); the first one is made visible."""
        sel = QItemSelection()
        rows = [r for r in (self.model.row_of(s) for s in stop_ids) if r >= 0]
        for r in rows:
            sel.select(self.model.index(r, 0), self.model.index(r, len(Column) - 1))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.table.selectionModel().select(sel, flags)
        if rows:
            first = self.model.index(rows[0], 0)
            self.table.selectionModel().setCurrentIndex(
                first, QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if scroll:
                self.table.scrollTo(first)

    def _keep_selection(self) -> None:
        self._kept = self.selected_stop_ids()

    def _restore_selection(self) -> None:
        kept, self._kept = self._kept, []
        if kept:
            self._restoring = True
            try:
                self.select_stops(kept, scroll=False)
            finally:
                self._restoring = False

    def _on_selection(self, *_: object) -> None:
        if self._restoring:
            return
        ids = self.selected_stop_ids()
        if ids:
            self.activated.emit(self)
            self.stop_selected.emit(self.vehicle_id, ids[0])

    def apply_filter(self, matches: Callable[[str], bool]) -> int:
        """Hide the rows whose stop does not match; returns how many are shown."""
        hide = [not matches(sid) for sid in self.model.stop_ids()]
        if not self._rows_hidden and not any(hide):
            return len(hide)  # nothing hidden, nothing to hide: no call per row into Qt
        for row, hidden in enumerate(hide):
            self.table.setRowHidden(row, hidden)
        self._rows_hidden = any(hide)
        return len(hide) - sum(hide)
