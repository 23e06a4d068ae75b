"""The main window: docks for Map, Exceptions, Routes, Messages and KPIs, menus, status bar.

The window holds no business rules: it asks the :class:`~dispatcher.core.Core` for data and
shows it. Its layout (geometry, dock positions, theme) is saved with QSettings on close and
restored on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from dispatcher import display
from dispatcher.core import Core, DayRead
from dispatcher.planning.desk import PreparedDay
from dispatcher_ui import day_picker
from dispatcher_ui.devices import dock as devices_dock
from dispatcher_ui.exceptions import dock as exceptions_dock
from dispatcher_ui.fleet_setup import menu as fleet_setup_menu
from dispatcher_ui.history import dock as history_dock
from dispatcher_ui.kpi import dock as kpi_dock
from dispatcher_ui.map import dock as map_dock
from dispatcher_ui.messages import dock as messages_dock
from dispatcher_ui.rooms import Rooms
from dispatcher_ui.routes import dock as routes_dock
from dispatcher_ui.routes_model import RoutesModel
from dispatcher_ui.selection import SelectionModel
from dispatcher_ui.shell import PLACEHOLDERS, Shell
from dispatcher_ui.shortcuts import ShortcutRegistry
from dispatcher_ui.steady import set_steady_text
from dispatcher_ui.support import menu as support_menu
from dispatcher_ui.themes import THEMES, apply_theme
from dispatcher_ui.workers import drain, run_in_background

if TYPE_CHECKING:
    from dispatcher.importing.service import ImportReport
    from dispatcher_ui.devices.panel import DevicesPanel
    from dispatcher_ui.devices.settings_dialog import DeviceSettingsDialog
    from dispatcher_ui.exceptions.panel import ExceptionsPanel
    from dispatcher_ui.first_run import FirstRunWizard
    from dispatcher_ui.fleet_setup.dialog import FleetSetupDialog
    from dispatcher_ui.history.replay_bar import ReplayBar
    from dispatcher_ui.map.controller import MapController
    from dispatcher_ui.map.fix_position import PositionFixer
    from dispatcher_ui.messages.panel import MessagesPanel
    from dispatcher_ui.orders.new_order_dialog import NewOrderDialog
    from dispatcher_ui.routes.panel import RoutesPanel
    from dispatcher_ui.support.flight_recorder import FlightRecorderDialog
    from dispatcher_ui.support.handover_dialog import HandoverDialog
    from dispatcher_ui.support.order_search import OrderSearchDialog

log = logging.getLogger(__name__)

#: Bump when docks are added or renamed: an older saved layout is then ignored, not half-applied.
LAYOUT_VERSION = 4


#: Each room's dock module: ``build(window)`` gives the body, ``install(window)`` adds the rest.
ROOM_DOCKS = {
    "map": map_dock,
    "exceptions": exceptions_dock,
    "messages": messages_dock,
    "kpis": kpi_dock,
    "routes": routes_dock,
    "history": history_dock,
    "fleet_setup": fleet_setup_menu,  # a menu, no dock (Fleet > Fleet setup…)
    "devices": devices_dock,
    "support": support_menu,  # a menu, no dock (Support > Where is my order… and the rest)
}


class MainWindow(Shell):
    """The composition root of the UI: the one module that imports every room's dock."""

    if TYPE_CHECKING:  # the rooms' dialogs, narrowed from the shell's QDialog for the tests
        first_run_wizard: FirstRunWizard | None
        fleet_setup_dialog: FleetSetupDialog
        last_new_order_dialog: NewOrderDialog
        device_settings_dialog: DeviceSettingsDialog | None
        order_search_dialog: OrderSearchDialog
        flight_recorder_dialog: FlightRecorderDialog
        handover_dialog: HandoverDialog

    def __init__(
        self, core: Core, settings: QSettings | None = None, *, restore: bool = True
    ) -> None:
        super().__init__()
        #: Whether the window has painted once (the first tick waits for it: :meth:`showEvent`).
        self.painted = False
        self._awaiting_paint = False
        self.core = core
        self.rooms = Rooms()
        self.qsettings = settings or QSettings()
        self.setWindowTitle(f"Dispatcher — {core.db.display_name}")
        self.setObjectName("MainWindow")
        self.setDockNestingEnabled(True)
        self.routes_model = RoutesModel(core.fleet.timezone, parent=self)
        #: The app's one selection (vehicle, stop, exception), shared by every view.
        self.selection = SelectionModel(self)
        #: Called once per UI tick after the core's tick (views refresh from the core here).
        self.tick_hooks: list[Callable[[], None]] = []
        #: Called when the window closes, before the core does: rooms stop their timers and
        #: background loads here so nothing calls back into deleted widgets.
        self.close_hooks: list[Callable[[], None]] = []
        core.before_close.append(drain)  # no job may hold a connection the core disposes
        #: Called with the new day when the day picker changes it (the route reload is asked).
        self.day_hooks: list[Callable[[date], None]] = []
        #: Every action and key of the window; a key bound twice raises while it is built.
        self.shortcuts = ShortcutRegistry()
        self.docks: dict[str, QDockWidget] = {}
        self.last_import_report: ImportReport | None = None
        #: The day every room shows (the day picker's); import rows without a date land on it.
        self.service_day: date | None = None
        self._routes_requested = self._routes_done = 0
        self._reload_when_saved_armed = False  # a read waits for this desk's save
        self._after_routes: list[Callable[[], None]] = []
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        for room in ROOM_DOCKS.values():
            room.install(self)
        self.resize(1600, 950)
        self.day_bar = day_picker.install(self)
        self.setProperty("defaultState", self.saveState(LAYOUT_VERSION))
        if restore:
            self.restore_layout()
        self.reload_routes()
        self._tick_timer = QTimer(self)
        self._tick_timer.timeout.connect(self.tick)
        if core.live is not None:
            self._tick_timer.start(core.settings.ui.tick_ms)

    def showEvent(self, event: QShowEvent) -> None:
        """The first show: no tick before the window has painted once.

        The constructor took long enough that the tick timer is due when the event loop
        starts, and Qt runs it before the paint: at 500 vehicles the first tick (the fleet
        table taking 500 vans at once) held the first paint back for about a second
        (bench/console.py). The ticks start at the first paint (:class:`_FirstPaint`), or a
        second after the show if no paint comes (a platform that does not paint).
        """
        super().showEvent(event)
        if self.painted or self._awaiting_paint:
            return
        self._awaiting_paint = True
        self._tick_timer.stop()
        self.installEventFilter(_FirstPaint(self, self._start_ticks))
        QTimer.singleShot(1000, self, self._start_ticks)

    def _start_ticks(self) -> None:
        self.painted = True
        if not self.isVisible():  # closed meanwhile: closeEvent stopped the ticks for good
            return
        if self.core.live is not None and not self._tick_timer.isActive():
            self._tick_timer.start(self.core.settings.ui.tick_ms)

    # The rooms under their old attribute names, for the tests and the walkthrough (the
    # rooms themselves look each other up with ``window.room(Class)``: ui/dispatcher_ui/rooms.py). A
    # room that is not there raises RoomMissing, an AttributeError: getattr(..., None) still works.
    @property
    def routes_panel(self) -> RoutesPanel:
        from dispatcher_ui.routes.panel import RoutesPanel

        return self.room(RoutesPanel)

    @property
    def route_filter(self) -> QLineEdit:
        """The route boards' stop filter (View > Find stop focuses it)."""
        return self.routes_panel.filter

    @property
    def map_controller(self) -> MapController:
        from dispatcher_ui.map.controller import MapController

        return self.room(MapController)

    @property
    def exceptions_panel(self) -> ExceptionsPanel:
        from dispatcher_ui.exceptions.panel import ExceptionsPanel

        return self.room(ExceptionsPanel)

    @property
    def messages_panel(self) -> MessagesPanel:
        from dispatcher_ui.messages.panel import MessagesPanel

        return self.room(MessagesPanel)

    @property
    def devices_panel(self) -> DevicesPanel:
        from dispatcher_ui.devices.panel import DevicesPanel

        return self.room(DevicesPanel)

    @property
    def replay_bar(self) -> ReplayBar:
        from dispatcher_ui.history.replay_bar import ReplayBar

        return self.room(ReplayBar)

    @property
    def position_fixer(self) -> PositionFixer:
        from dispatcher_ui.map.fix_position import PositionFixer

        return self.room(PositionFixer)

    def tick(self) -> None:
        """Once per UI tick: the core's tick (telemetry, services), then views and the bar."""
        self.core.tick()
        for hook in self.tick_hooks:
            try:
                hook()
            except Exception:
                log.exception("tick hook %r failed", hook)
        live = self.core.live
        if live is None:
            return
        stats = live.stats()
        state = stats.state.value
        # Fixed widths that only grow: a new text repaints the label, not the window's layout.
        set_steady_text(
            self.broker_label,
            f"Broker: {state} · {stats.messages_per_s:.0f} msg/s · {stats.vehicles} vehicles"
            + (f" · ⚠ {stats.warning.split(':')[0]}" if stats.warning else ""),
        )
        tip = (
            f"{stats.broker_url}\n{stats.warning or stats.reason}\n"
            f"{stats.received} received, {stats.rejected} rejected"
        )
        if self.broker_label.toolTip() != tip:
            self.broker_label.setToolTip(tip)
        now = self.core.clock.now().astimezone(self.routes_model.timezone)
        set_steady_text(self.clock_label, display.current().clock(now, seconds=True))

    # --- construction ---------------------------------------------------------------------
    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.map_dock = self._add_dock("map", "Map", map_dock.build(self), left)
        self._add_dock("routes", "Routes", routes_dock.build(self), right)
        for key in ("exceptions", "messages", "kpis"):
            self._add_dock(key, PLACEHOLDERS[key][0], ROOM_DOCKS[key].build(self), bottom)
        self.splitDockWidget(self.docks["map"], self.docks["routes"], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.docks["exceptions"], self.docks["messages"])
        self.tabifyDockWidget(self.docks["messages"], self.docks["kpis"])
        self.docks["exceptions"].raise_()
        self._add_dock("fleet", "Fleet", self._fleet_panel(), left)
        self.tabifyDockWidget(self.docks["map"], self.docks["fleet"])
        self.docks["fleet"].raise_()
        self.resizeDocks(
            [self.docks["map"], self.docks["routes"]], [700, 900], Qt.Orientation.Horizontal
        )
        self.resizeDocks(
            [self.docks["map"], self.docks["exceptions"]], [650, 260], Qt.Orientation.Vertical
        )

    def _fleet_panel(self) -> QWidget:
        from PySide6.QtCore import QSortFilterProxyModel
        from PySide6.QtWidgets import QTableView

        from dispatcher.fleet.state import FleetChanged, FleetState
        from dispatcher_ui.fleet_model import FleetModel

        live = self.core.live
        fleet = live.fleet if live is not None else FleetState()
        # Names come with the first route reload (read off the GUI thread): ids until then.
        self.fleet_model = FleetModel(fleet, None, self.core.fleet.timezone, parent=self)
        self.core.bus.subscribe(FleetChanged, self.fleet_model.on_fleet_changed)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.fleet_model)
        self.fleet_view = QTableView()
        self.fleet_view.setModel(proxy)
        self.fleet_view.setSortingEnabled(True)
        self.fleet_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.fleet_view.setAlternatingRowColors(True)
        self.fleet_view.verticalHeader().hide()
        self.fleet_view.horizontalHeader().setStretchLastSection(True)
        self.fleet_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.fleet_view.setWordWrap(False)
        self.fleet_view.verticalHeader().setDefaultSectionSize(22)
        # "Last seen" as wide as the fleet's clock writes it (a 12-hour one adds " PM").
        seen = self.fleet_view.fontMetrics().horizontalAdvance(
            display.current().clock(datetime(2000, 1, 1, 22, 58, 58), seconds=True)
        )
        for col, width in enumerate((160, 70, 50, max(75, seen + 16), 150, 60)):
            self.fleet_view.setColumnWidth(col, width)
        return self.fleet_view

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.db_label = QLabel(f"Database: {self.core.db.backend} ✓")
        self.db_label.setToolTip(self.core.db.display_name)
        self.broker_label = QLabel(f"Broker: {self.core.settings.broker.url} — not connected")
        self.stats_label = QLabel("")
        self.clock_label = QLabel("")
        self.clock_label.setToolTip("Console clock (the demo day runs faster than real time)")
        #: "Loading the day…" while the day's routes are read (the window shows before them).
        #: Permanent: a plain status-bar widget is hidden by every temporary message and shown
        #: again when it ends, each time laying the window out (500 vehicles: the routes'
        #: and map's messages came every few seconds).
        self.loading_label = QLabel("")
        self.loading_label.setObjectName("routesLoadingStatus")
        bar.addPermanentWidget(self.loading_label)
        bar.addPermanentWidget(self.stats_label)
        bar.addPermanentWidget(self.clock_label)
        bar.addPermanentWidget(self.broker_label)
        bar.addPermanentWidget(self.db_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(
            file_menu,
            "&New order…",
            self.new_order,
            "Ctrl+N",
            help="New order (urgent orders by phone)",
        )
        self._action(
            file_menu,
            "&Import orders…",
            self.import_orders,
            "Ctrl+I",
            help="Import orders from CSV",
        )
        self._action(  # not the slot itself: triggered(checked) would be taken as ``then``
            file_menu,
            "&Reload",
            lambda _=False: self.reload_routes(),
            QKeySequence.StandardKey.Refresh,
        )
        file_menu.addSeparator()
        self._action(
            file_menu, "&Quit", self.close, "Ctrl+Q"
        )  # the standard key is empty offscreen

        view = self.menuBar().addMenu("&View")
        for key in self.docks:
            self.add_dock_toggle(view, key)
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        for name in THEMES:  # not triggered's "checked" as the name (that gave dark always)
            self._action(
                theme_menu,
                name.capitalize(),
                lambda _=False, n=name: self.set_theme(n),
                name=f"theme {name}",
            )
        self._action(view, "Reset &layout", self.reset_layout)
        self._action(view, "&Find stop", self.route_filter.setFocus, QKeySequence.StandardKey.Find)

        from dispatcher_ui.devices.phone_setup_dialog import add_phone_setup_action

        add_phone_setup_action(self)  # Fleet > Set up a driver's phone…
        from dispatcher_ui.driver.desk_dialog import add_driver_desk_action

        add_driver_desk_action(self)  # Fleet > Driver app…
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&First-run assistant…", self.first_run)
        self._action(help_menu, "&About Dispatcher", self.show_about)

    # --- behaviour ------------------------------------------------------------------------
    def set_service_day(self, day: date) -> None:
        """Show ``day`` in every room (the day picker calls this); the boards follow when
        their routes are read (:meth:`reload_routes`)."""
        self.service_day = day
        self.reload_routes()
        for hook in self.day_hooks:
            try:
                hook(day)
            except Exception:
                log.exception("day hook %r failed", hook)

    @property
    def routes_loading(self) -> bool:
        """A reload of the routes is under way (its result is not on the boards yet)."""
        return self._routes_done < self._routes_requested

    def reload_routes(self, then: Callable[[], None] | None = None) -> None:
        """Read the day's routes and vehicles in a worker; the boards update when they arrive.

        The GUI thread never waits on the database. The newest request wins: a read that a
        later request overtook (another day picked, another import) is dropped, and so is a
        read that started before an edit on the boards was saved — it may not have that edit
        — and is read again, so the boards never step back to an older state. The route
        boards keep their selection across the reload; their undo history starts afresh, as
        F5 always did. ``then`` runs on the GUI thread once the routes are shown (or the read
        failed and the boards stay as they were), also when a newer request overtook this one.
        """
        if then is not None:
            self._after_routes.append(then)
        self._routes_requested += 1
        generation = self._routes_requested
        controller = self.routes_panel.controller
        saves, day, core = controller.saves, self.service_day, self.core
        shown = controller.day
        if shown is None or (day is not None and shown.day != day):
            # Only when the boards have nothing of this day to show: a reload of the day on
            # screen (F5, another desk's save) keeps its boards, and showing and hiding the
            # line re-laid out the strip and the status bar at each one (500 vehicles:
            # bench/console.py's p99 went from ~60 to ~500 ms).
            self._show_loading(True)
        desk, positions, now = controller.desk, controller.live_positions(), core.clock.now()

        def read() -> tuple[DayRead, PreparedDay | None]:
            # The plan is built and evaluated here too: at 500 vehicles that was 1.5 s of the
            # GUI thread's F5 (bench/console.py).
            read = core.read_day(day)
            try:
                prepared = desk.prepare(read.routes, read.vehicles, day or read.day, positions, now)
            except Exception as exc:  # the GUI thread builds it again below, and says a fault
                # A read that overlapped this desk's own save can hold a stop twice (on its
                # old route and in the pool). Such a read is dropped and read again in
                # _routes_read; a read that is not stale is built on the GUI thread, as
                # before, where a real fault is reported. Failing here lost the re-read.
                log.debug("routes read not prepared in the worker: %s", exc)
                prepared = None
            return read, prepared

        run_in_background(
            read,
            lambda result: self._routes_read(generation, saves, *result),
            lambda exc: self._routes_failed(generation, exc),
        )

    def _routes_read(
        self,
        generation: int,
        saves: int,
        read: DayRead,
        prepared: PreparedDay | None = None,
    ) -> None:
        day, routes, vehicles = read.day, read.routes, read.vehicles
        if not shiboken6.isValid(self) or generation != self._routes_requested:
            return  # closed meanwhile, or a newer read is on its way
        controller = self.routes_panel.controller
        if controller.saving:  # an edit is being saved: read again once it is stored
            if not self._reload_when_saved_armed:
                self._reload_when_saved_armed = True
                controller.saving_changed.connect(self._reload_when_saved)
            return
        if controller.saves != saves:
            self.reload_routes()  # an edit was saved after this read began: read again
            return
        if (
            self.service_day is None
        ):  # no kept day: the core's rule chose it (ui/dispatcher_ui/day_picker.py)
            self.service_day = day
            self.day_bar.show_day(day)
        self.routes_model.set_routes(routes)
        routes_dock.reload(self, routes, vehicles, prepared)
        self.fleet_model.set_names({v.id: v.name for v in vehicles})
        model = self.routes_model
        unassigned = model.unassigned_count()
        self.stats_label.setText(
            f"{model.route_count()} routes · {model.stop_count()} stops"
            + (f" · {unassigned} unassigned" if unassigned else "")
        )
        self._routes_finished(generation)

    def _reload_when_saved(self, saving: bool) -> None:
        """A read overtaken by this desk's own save: read the day again once it is stored."""
        if saving or not self._reload_when_saved_armed:
            return
        self._reload_when_saved_armed = False
        self.routes_panel.controller.saving_changed.disconnect(self._reload_when_saved)
        self.reload_routes()

    def _routes_failed(self, generation: int, exc: Exception) -> None:
        if not shiboken6.isValid(self) or generation != self._routes_requested:
            return
        self.statusBar().showMessage(f"Could not load routes: {exc}", 10000)
        self._routes_finished(generation)

    def _routes_finished(self, generation: int) -> None:
        self._routes_done = generation
        self._show_loading(False)
        waiting, self._after_routes = self._after_routes, []
        for then in waiting:
            try:
                then()
            except Exception:
                log.exception("after the route reload: %r failed", then)
        self.routes_reloaded.emit()

    def _show_loading(self, loading: bool) -> None:
        """The boards' and the status bar's "loading" line: the window is built and shown
        without waiting for the day's read (issue 17), so it says what is still coming.
        Only a change is applied: each one lays the strip and the status bar out again."""
        if self.routes_panel.loading_label.isVisibleTo(self.routes_panel) == loading:
            return
        self.loading_label.setText("Loading the day's routes…" if loading else "")
        self.routes_panel.set_loading(loading)

    def first_run(self) -> None:
        from dispatcher_ui.first_run import open_first_run

        open_first_run(self, self.qsettings)

    def new_order(self) -> None:
        from dispatcher_ui.orders.new_order_dialog import open_new_order

        open_new_order(self, self.routes_model.timezone.key)

    def import_orders(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import orders", "", "CSV files (*.csv)")
        if path:
            self.run_import(Path(path))

    def run_import(self, path: Path) -> None:
        from dispatcher_ui.import_dialog import start_import

        start_import(self, path)

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            applied = apply_theme(app, name)
            self.qsettings.setValue("ui/theme", applied)

    def reset_layout(self) -> None:
        default = self.property("defaultState")
        if isinstance(default, QByteArray):
            self.restoreState(default, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", self.shortcuts.help_html())

    def show_about(self) -> None:
        from dispatcher import __version__

        QMessageBox.about(
            self,
            "About Dispatcher",
            f"<b>Dispatcher {__version__}</b><p>Open-source dispatch console for "
            "last-mile delivery fleets.</p>",
        )

    # --- layout persistence ---------------------------------------------------------------
    def restore_layout(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.qsettings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._tick_timer.stop()
        for hook in self.close_hooks:
            try:
                hook()
            except Exception:
                log.exception("close hook %r failed", hook)
        self.save_layout()
        super().closeEvent(event)


class _FirstPaint(QObject):
    """Calls ``then`` once, after the first paint of the window it filters, and goes away
    (a filter for the window's whole life would run Python for each of its events)."""

    def __init__(self, window: MainWindow, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._then = then

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, watched, self._then)  # after this paint has finished
            self.deleteLater()
        return False


def schedule_screenshot(window: MainWindow, path: Path, after_s: float) -> None:
    """Render ``window`` to ``path`` after ``after_s`` seconds and quit (headless checks)."""

    def shoot() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path)):
            log.error("could not write screenshot %s", path)
            QApplication.exit(1)
            return
        print(f"screenshot written to {path}")
        QApplication.exit(0)

    QTimer.singleShot(int(after_s * 1000), shoot)
