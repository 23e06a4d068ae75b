"""The Routes dock body: every vehicle's board side by side, a filter and the last change.

Boards sit in a horizontally scrolling row so a dispatcher sees two (or more) vehicles at once
and drags between them. Only the boards in (or near) view exist as widgets
(:mod:`dispatcher_ui.routes.strip`): the panel costs the same at 12 vehicles as at 500.
Keyboard and context-menu actions act on the board that last had the focus. Selecting a stop
here sets the window's one selection; a selection made elsewhere (map, exception queue)
scrolls to the stop's board (building it) and selects it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
)

from dispatcher.planning.dayplan import UNASSIGNED
from dispatcher_ui.map.fix_position import KEYS as FIX_KEYS
from dispatcher_ui.map.fix_position import PositionFixer
from dispatcher_ui.messages.actions import current_actor
from dispatcher_ui.routes.board import VehicleBoard
from dispatcher_ui.routes.confirm import confirm_move
from dispatcher_ui.routes.controller import BoardController
from dispatcher_ui.routes.host import BoardsHost
from dispatcher_ui.routes.live import LiveBoardUpdates
from dispatcher_ui.routes.strip import SPACING, Boards, BoardStrip
from dispatcher_ui.selection import Selection

if TYPE_CHECKING:
    from dispatcher_ui.routes.insert_dialog import InsertDialog
    from dispatcher_ui.routes.optimize_dialog import OptimizeDialog
    from dispatcher_ui.shell import Shell

SOURCE = "routes"
#: QSettings key of the compact-boards view toggle (kept across restarts).
COMPACT_KEY = "routes/compact_boards"


def _saving_indicator() -> QLabel:
    label = QLabel("saving…")
    label.setObjectName("routeSaving")
    label.setToolTip("The last route change is shown; the database has not stored it yet")
    label.setVisible(False)
    return label


class RoutesPanel(BoardsHost):
    """Boards, filter and feedback line; owns the :class:`BoardController`."""

    def __init__(self, window: Shell) -> None:
        super().__init__()
        self.window_ = window
        self.controller = BoardController(
            window.core, window.routes_model.timezone, self, actor=lambda: current_actor(window)
        )
        #: Drivers' progress and other workstations' route changes, without F5.
        self.live = LiveBoardUpdates(self.controller)
        #: Vehicles whose boards are shown (None: all); chosen with the "Boards" button.
        self.shown_vehicles: set[str] | None = None
        self.active_board: VehicleBoard | None = None
        self.last_optimize_dialog: OptimizeDialog | None = None
        self.last_insert_dialog: InsertDialog | None = None
        self.filter = QLineEdit(placeholderText="Filter stops (customer, address, order)…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        self.change_label = QLabel("")
        self.change_label.setObjectName("routeChange")
        self.change_label.setWordWrap(True)  # a refusal is read whole
        #: Shown while an edit on the boards waits for its save (the database may be slow).
        self.saving_label = _saving_indicator()
        #: Shown while the window reads the day's routes (the first read at start-up, a new
        #: day, F5): the window is up and usable before the day is read (issue 17).
        self.loading_label = QLabel("Loading the day's routes…")
        self.loading_label.setObjectName("routesLoading")
        self.loading_label.setVisible(False)
        self.optimize_route_button = QPushButton("Optimize route…")
        self.optimize_fleet_button = QPushButton("Optimize fleet…")
        self.optimize_route_button.clicked.connect(lambda: self.optimize(fleet=False))
        self.optimize_fleet_button.clicked.connect(lambda: self.optimize(fleet=True))
        self.scroll_area = QScrollArea()
        #: The row of boards; a board widget exists only near the view (strip.py).
        self.strip = BoardStrip(
            self.scroll_area, self._make_board, keep=lambda b: b is self.active_board
        )
        self.strip.on_sync = self._pin_headers
        #: Every vehicle's board by id ("" = unassigned): built on first use, see strip.py.
        self.boards = Boards(self.strip)
        #: Each route's actual distance, cost and CO₂e line (the KPI feed), for new boards too.
        self.actual_lines: dict[str, str] = {}
        self._matches: Callable[[str], bool] = lambda sid: True
        self._init_layout(window)
        top = self._top_row()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.change_label)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.scroll_area, 1)
        c = self.controller
        c.routes_changed.connect(self._on_routes_changed)
        c.focus_stops.connect(self.focus_stops)
        c.message.connect(self._show_message)
        c.saving_changed.connect(self.saving_label.setVisible)
        c.reloaded.connect(window.routes_model.set_routes)
        window.selection.changed.connect(self._on_selection)

    def _top_row(self) -> QHBoxLayout:
        """Filter, "saving…", the boards menu and the optimize buttons."""
        self.boards_button = QToolButton()
        self.boards_button.setText("Boards")
        self.boards_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.boards_button.setMenu(QMenu(self.boards_button))
        self.boards_button.menu().aboutToShow.connect(self._fill_boards_menu)
        top = QHBoxLayout()
        top.addWidget(self.filter, 2)
        top.addWidget(self.saving_label)
        top.addWidget(self.boards_button)
        top.addWidget(self.optimize_route_button)
        top.addWidget(self.optimize_fleet_button)
        return top

    def set_loading(self, loading: bool) -> None:
        """Say (or stop saying) that the day's routes are being read."""
        self.loading_label.setVisible(loading)

    # --- boards ---------------------------------------------------------------------------
    def _on_routes_changed(self, vids: frozenset[str] | None) -> None:
        if vids is None:
            self._rebuild_boards()
        self.apply_filter(self.filter.text())

    def _rebuild_boards(self) -> None:
        """A slot per vehicle of the day; the boards themselves are built when seen."""
        if self.strip.set_known([UNASSIGNED, *self.controller.vehicle_ids()]):
            self.active_board = None

    def _make_board(self, vid: str) -> VehicleBoard:
        """Build ``vid``'s board as the row shows it now (compact, fitted, filtered)."""
        board = VehicleBoard(self.controller, vid)
        board.stop_selected.connect(self._on_board_selection)
        board.activated.connect(self._set_active)
        board.table.customContextMenuRequested.connect(
            lambda pos, b=board: self._context_menu(b, pos)
        )
        if self.compact:
            board.set_compact(True)
        board.fit_to(self._available())
        board.set_actual(self.actual_lines.get(vid, ""))
        board.apply_filter(self._matches)
        return board

    def set_actuals(self, lines: dict[str, str]) -> None:
        """Each route's actual distance, cost and CO₂e under its totals (the KPI feed)."""
        self.actual_lines = dict(lines)
        for vid, board in self.boards.items():
            board.set_actual(lines.get(vid, ""))

    # --- layout: boards as wide as their content, never wider than the view ----------------
    def _init_layout(self, window: Shell) -> None:
        #: Boards drop their secondary columns (View > Compact route boards).
        self.compact = bool(window.qsettings.value(COMPACT_KEY, False, type=bool))
        self.compact_action: QAction | None = None  # View > Compact route boards (dock.py)
        self.scroll_area.viewport().installEventFilter(self)
        self.scroll_area.horizontalScrollBar().valueChanged.connect(self._pin_headers)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.scroll_area.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_boards()
        return False

    def _available(self) -> int:
        """The widest a board may be: the view, less the spacing around it."""
        return max(self.scroll_area.viewport().width() - 2 * SPACING, 200)

    def _fit_boards(self) -> None:
        available = self._available()
        for board in self.boards.values():
            board.fit_to(available)
        self.strip.reset_widths()
        self._pin_headers()

    def _pin_headers(self, *_: object) -> None:
        """Each board's header follows the view's left edge while its board is cut there."""
        left = self.scroll_area.horizontalScrollBar().value()
        for vid, board in self.boards.items():
            board.pin_header(left - self.strip.x_of(vid))

    def set_compact(self, on: bool) -> None:
        """Compact boards (who, when, slack, state) or every column; kept in QSettings."""
        self.compact = on
        self.window_.qsettings.setValue(COMPACT_KEY, on)
        for board in self.boards.values():
            board.set_compact(on)
        self._fit_boards()
        self.strip.sync()

    def show_board(self, board: VehicleBoard) -> None:
        """Scroll so ``board`` is whole in view, its left edge (the vehicle's name) first."""
        if not self.strip.is_shown(board.vehicle_id):
            return  # hidden by the filter or the "Boards" chooser
        bar = self.scroll_area.horizontalScrollBar()
        view = self.scroll_area.viewport().width()
        x = self.strip.x_of(board.vehicle_id)
        if bar.value() <= x and x + board.width() <= bar.value() + view:
            return  # already whole in view: leave the dispatcher's scroll position alone
        bar.setValue(max(0, x - SPACING))
        self.strip.sync()  # the boards beside it, built now rather than on the next pass

    def _set_active(self, board: VehicleBoard) -> None:
        self.active_board = board

    def board_of(self, stop_id: str) -> VehicleBoard | None:
        day = self.controller.day
        if day is None:
            return None
        vid = day.plan.vehicle_of(stop_id)
        return self.boards.get(UNASSIGNED if vid is None else vid)

    def focus_stops(self, stop_ids: list[str]) -> None:
        """Select moved stops where they are now (the dispatcher's eyes follow them)."""
        if not stop_ids:
            return
        board = self.board_of(stop_ids[0])
        if board is not None:
            board.select_stops(stop_ids)
            self.active_board = board
            self.show_board(board)

    def reveal_unassigned(self, known: Collection[str] = ()) -> None:
        """Scroll the Unassigned board into view with the stops not in ``known`` selected
        (after an import: the new orders; every unassigned stop when none is new)."""
        stops = list(self.controller.route(UNASSIGNED))
        board = self.boards.get(UNASSIGNED)
        if board is None or not stops:
            return
        new = [s for s in stops if s not in known] or stops
        if not self.strip.is_shown(UNASSIGNED):  # a filter hid it: the new orders come first
            self.strip.set_order([UNASSIGNED, *self.strip.order])
        board.select_stops(new)  # scrolls the board's table to the first of them
        self.active_board = board
        self.show_board(board)

    def apply_filter(self, text: str) -> None:
        """Show the boards with a matching stop (counted on the plan, not on widgets) and
        hide the other rows of the boards that exist."""
        day = self.controller.day
        needle = text.strip().casefold()

        def matches(sid: str) -> bool:
            if not needle or day is None:
                return True
            v = day.stops.get(sid)
            if v is None:  # a board still listing the previous day for a moment
                return False
            return any(needle in f.casefold() for f in (v.customer_name, v.address, v.order_ref))

        self._matches = matches
        chosen = self.shown_vehicles
        order = []
        for vid in self.strip.known:
            route = self.controller.route(vid)
            shown = sum(map(matches, route)) if needle else len(route)
            if vid == UNASSIGNED:
                wanted = shown > 0
            else:
                wanted = (chosen is None or vid in chosen) and (shown > 0 or not needle)
            if wanted:
                order.append(vid)
        for board in self.boards.values():
            board.apply_filter(matches)
        self.strip.set_order(order)

    def show_only(self, vehicle_ids: set[str] | None) -> None:
        """Show the boards of these vehicles side by side (None: every vehicle)."""
        self.shown_vehicles = None if vehicle_ids is None else set(vehicle_ids)
        self.apply_filter(self.filter.text())

    def _fill_boards_menu(self) -> None:
        menu = self.boards_button.menu()
        menu.clear()
        menu.addAction("All vehicles", lambda: self.show_only(None))
        menu.addSeparator()
        for vid in self.controller.vehicle_ids():
            action = menu.addAction(self._vehicle_label(vid))
            action.setCheckable(True)
            action.setChecked(self.shown_vehicles is None or vid in self.shown_vehicles)
            action.toggled.connect(lambda on, v=vid: self._toggle_board(v, on))

    def _toggle_board(self, vehicle_id: str, on: bool) -> None:
        shown = (
            set(self.controller.vehicle_ids())
            if self.shown_vehicles is None
            else set(self.shown_vehicles)
        )
        if on:
            shown.add(vehicle_id)
        else:
            shown.discard(vehicle_id)
        self.show_only(shown)

    def _show_message(self, text: str) -> None:
        self.change_label.setText(text)
        self.window_.statusBar().showMessage(text, 15000)

    # --- the window's one selection ---------------------------------------------------------
    def _on_board_selection(self, vehicle_id: str, stop_id: str) -> None:
        self.window_.selection.select_stop(int(stop_id), vehicle_id or None, source=SOURCE)

    def _on_selection(self, sel: Selection) -> None:
        if sel.source == SOURCE:
            return
        if sel.stop_id is not None:
            self.focus_stops([str(sel.stop_id)])
        elif sel.vehicle_id is not None and sel.vehicle_id in self.boards:
            self.show_board(self.boards[sel.vehicle_id])

    # --- actions on the active board ------------------------------------------------------
    def selected(self) -> list[str]:
        return [] if self.active_board is None else self.active_board.selected_stop_ids()

    def move_selected(self, delta: int) -> None:
        ids = self.selected()
        if ids:
            self.controller.move_by(ids, delta, self._confirm_move)

    def _confirm_move(self, problems: list[str]) -> bool:
        """Asked before a keyboard or menu move that breaks a constraint (as a drop is)."""
        return confirm_move(self, problems)

    def choose_vehicle_for_selected(self) -> None:
        """Ask which vehicle gets the selected stops (the keyboard's "move to vehicle")."""
        self.move_selected_to_vehicle(None)

    def move_selected_to_vehicle(self, vehicle_id: str | None = None) -> None:
        ids = self.selected()
        if not ids:
            self._show_message("Select stops first")
            return
        if vehicle_id is None:
            choices = self.controller.vehicle_ids()
            vehicle_id, ok = QInputDialog.getItem(
                self, "Move to vehicle", "Vehicle:", choices, 0, False
            )
            if not ok:
                return
        self.controller.move(ids, vehicle_id, -1, self._confirm_move)

    def _mover_to(self, vehicle_id: str) -> Callable[[], None]:
        """A menu slot that moves the selected stops to ``vehicle_id`` (bound per entry)."""
        return lambda: self.move_selected_to_vehicle(vehicle_id)

    def toggle_pin(self) -> None:
        self._toggle("pinned")

    def toggle_keep(self) -> None:
        self._toggle("keep_vehicle")

    def _toggle(self, lock: str) -> None:
        ids, day = self.selected(), self.controller.day
        if ids and day is not None:
            value = not getattr(day.plan.stops[ids[0]], lock)
            self.controller.set_locks(ids, **{lock: value})

    def lock_order(self, on: bool) -> None:
        ids = self.selected()
        if ids:
            group = f"g{ids[0]}" if on else None
            self.controller.set_locks(ids, order_group=group)

    def optimize(self, *, fleet: bool) -> None:
        from dispatcher_ui.routes.optimize_dialog import start_optimization

        if fleet:
            start_optimization(self, None)
            return
        board = self.active_board
        if board is None or board.vehicle_id == UNASSIGNED:
            self._show_message("Click a vehicle's board first, then optimize its route")
            return
        start_optimization(self, board.vehicle_id)

    def suggest_place(self) -> None:
        from dispatcher_ui.routes.insert_dialog import show_suggestions

        ids = self.selected()
        if len(ids) != 1:
            self._show_message("Select one stop (e.g. an urgent order) to find its best place")
            return
        show_suggestions(self, ids[0])

    def fix_position(self) -> None:
        """Click on the map where the (first) selected stop really is
        (ui/dispatcher_ui/map/fix_position.py)."""
        ids = self.selected()
        fixer = self.window_.rooms.find(PositionFixer)  # none without a map
        if ids and fixer is not None:
            fixer.fix(int(ids[0]))

    def message_customer(self) -> None:
        ids = self.selected()
        if not ids:
            return
        from dispatcher_ui.messages.actions import message_customer

        message_customer(self.window_, int(ids[0]))

    def driver_desk(self) -> None:
        """The driver app's side of the selected stop: its POD and the talk with its driver."""
        ids, day = self.selected(), self.controller.day
        if not ids or day is None or ids[0] not in day.stops:
            return
        from dispatcher_ui.driver.desk_dialog import open_driver_desk

        board = self.active_board
        vehicle = board.vehicle_id if board is not None and board.vehicle_id != UNASSIGNED else None
        open_driver_desk(self.window_, stop_ref=day.stops[ids[0]].order_ref, vehicle_id=vehicle)

    def _context_menu(self, board: VehicleBoard, pos: QPoint) -> None:
        self.active_board = board
        if not board.selected_stop_ids():
            return
        menu = QMenu(self)
        self._fill_menu(menu, board)
        menu.popup(board.table.viewport().mapToGlobal(pos))

    def _fill_menu(self, menu: QMenu, board: VehicleBoard) -> None:
        day = self.controller.day
        first = day.plan.stops[board.selected_stop_ids()[0]] if day is not None else None
        menu.addAction("Move up\tAlt+Up", lambda: self.move_selected(-1))
        menu.addAction("Move down\tAlt+Down", lambda: self.move_selected(1))
        to = menu.addMenu("Move to vehicle")
        for vid in self.controller.vehicle_ids():
            if vid != board.vehicle_id:
                label = self._vehicle_label(vid)
                to.addAction(label, self._mover_to(vid))
        if board.vehicle_id != UNASSIGNED:
            menu.addAction("Unassign", lambda: self.move_selected_to_vehicle(UNASSIGNED))
        menu.addSeparator()
        pinned = first is not None and first.pinned
        kept = first is not None and first.keep_vehicle
        menu.addAction("Unpin" if pinned else "Pin to this position", self.toggle_pin)
        keep_text = "Let it change vehicle" if kept else "Keep on this vehicle"
        menu.addAction(keep_text, self.toggle_keep)
        menu.addAction("Lock order of the selected stops", lambda: self.lock_order(True))
        if first is not None and first.order_group:
            menu.addAction("Unlock order", lambda: self.lock_order(False))
        menu.addSeparator()
        menu.addAction("Suggest best place…", self.suggest_place)
        if board.vehicle_id != UNASSIGNED:
            menu.addAction("Optimize this route…", lambda: self.optimize(fleet=False))
        menu.addAction(f"Fix position on map…\t{FIX_KEYS}", self.fix_position)
        menu.addSeparator()
        menu.addAction("Message customer…", self.message_customer)
        menu.addAction("Driver: proof of delivery and messages…", self.driver_desk)

    def _vehicle_label(self, vid: str) -> str:
        day = self.controller.day
        info = day.vehicles.get(vid) if day is not None else None
        return f"{info.name} ({vid})" if info is not None else vid
