"""What a room sees of the main window: the :class:`Shell` every dock, dialog and controller
takes as ``window``.

The rooms depend on this small leaf module, not on ``ui/dispatcher_ui/main_window.py``: the window
imports every dock, so a dock that imported the window back (even only to name ``MainWindow`` in an
annotation) closed an import cycle through all of them. ``ui/dispatcher_ui/main_window.py`` is the
one place that knows every room (import-linter checks it, see pyproject.toml).

The shell is a ``QMainWindow`` base class rather than a Protocol because the rooms use the
window as a Qt parent and call its Qt methods (``statusBar()``, ``addDockWidget()``…). It
holds the window's shared plumbing — menus, actions, the shortcut registry, the room registry
(:mod:`dispatcher_ui.rooms`) — and declares the few window behaviours the rooms call, which
:class:`dispatcher_ui.main_window.MainWindow` implements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QWidget,
    QWizard,
)

from dispatcher_ui.rooms import Rooms
from dispatcher_ui.shortcuts import KeySpec, ShortcutRegistry

if TYPE_CHECKING:
    from dispatcher.core import Core
    from dispatcher.importing.service import ImportReport
    from dispatcher_ui.routes_model import RoutesModel
    from dispatcher_ui.selection import SelectionModel

T = TypeVar("T")

PLACEHOLDERS = {
    "map": (
        "Live map",
        "Every vehicle's live position reported over MQTT, coloured by state (on time, at "
        "risk, late, idle, offline), the selected route with numbered stops, depots and "
        "geofences, and open exceptions marked where they happen.",
    ),
    "exceptions": (
        "Exceptions",
        "The exception queue: late and at-risk stops, failed deliveries, vehicles offline or "
        "idle, route deviations — sorted by priority, to acknowledge, assign, escalate and "
        "resolve with an audit trail.",
    ),
    "messages": (
        "Messages",
        "Customer messages (running late, arriving soon, missed you, delivered) with their "
        "templates and the outbox: what was sent to whom, when, and whether it arrived.",
    ),
    "kpis": (
        "KPIs",
        "Live key figures for the day: on-time %, first-attempt success, OTIF, stops done vs "
        "planned, late stops by hour, open exceptions by age.",
    ),
}


def placeholder(title: str, text: str) -> QWidget:
    """A dock body that says what will appear there, instead of an empty grey box."""
    label = QLabel(f"<h3>{title}</h3><p>{text}</p>")
    label.setObjectName("placeholder")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class Shell(QMainWindow):
    """The main window as the rooms know it (implemented by
    ``dispatcher_ui.main_window.MainWindow``)."""

    core: Core
    qsettings: QSettings
    routes_model: RoutesModel
    #: The app's one selection (vehicle, stop, exception), shared by every view.
    selection: SelectionModel
    #: Called once per UI tick after the core's tick (views refresh from the core here).
    tick_hooks: list[Callable[[], None]]
    #: Called when the window closes, before the core does (rooms stop timers and loads).
    close_hooks: list[Callable[[], None]]
    #: Called with the new day when the day picker changes it.
    day_hooks: list[Callable[[date], None]]
    #: Every action and key of the window; a key bound twice raises while it is built.
    shortcuts: ShortcutRegistry
    #: The rooms (panels, controllers) by class: see :mod:`dispatcher_ui.rooms`.
    rooms: Rooms
    docks: dict[str, QDockWidget]
    #: The day every room shows (the day picker's); import rows without a date land on it.
    service_day: date | None
    last_import_report: ImportReport | None
    # Widgets and actions a room puts on the window for the others' menus and keys.
    exceptions_mute: QAction
    devices_action: QAction
    _replay_map_warned: bool
    # Set when the user opens them (tests and the walkthrough wait for these to appear);
    # MainWindow narrows them to the rooms' own dialog classes.
    first_run_wizard: QWizard | None
    fleet_setup_dialog: QDialog
    last_new_order_dialog: QDialog
    last_day_report: tuple[Path, Path]
    period_dialog: QDialog
    device_settings_dialog: QDialog | None
    order_search_dialog: QDialog
    flight_recorder_dialog: QDialog
    handover_dialog: QDialog
    #: The routes of a reload are on the boards (or the read failed): see ``reload_routes``.
    routes_reloaded = Signal()

    def room(self, kind: type[T]) -> T:
        """The window's room of class ``kind``; :class:`dispatcher_ui.rooms.RoomMissing` if it has
        none."""
        return self.rooms.get(kind)

    # --- behaviour the window implements ---------------------------------------------------
    @property
    def routes_loading(self) -> bool:
        """A reload of the routes is under way (its result is not on the boards yet)."""
        raise NotImplementedError

    def reload_routes(self, then: Callable[[], None] | None = None) -> None:
        """Read the day's routes in a worker; ``then`` runs once they are on the boards."""
        raise NotImplementedError

    def set_service_day(self, day: date) -> None:
        """Show ``day`` in every room."""
        raise NotImplementedError

    def save_layout(self) -> None:
        """Save the window's geometry and dock layout."""
        raise NotImplementedError

    # --- menus, actions and docks ----------------------------------------------------------
    def add_dock_toggle(self, menu: QMenu, key: str, before: QAction | None = None) -> QAction:
        """Put dock ``key``'s show/hide action in ``menu`` (registered as "toggle KEY dock")."""
        action = self.shortcuts.add(self.docks[key].toggleViewAction(), name=f"toggle {key} dock")
        if before is None:
            menu.addAction(action)
        else:
            menu.insertAction(before, action)
        return action

    @property
    def shortcut_help(self) -> list[tuple[str, str]]:
        """(keys, what) rows of Help > Keyboard shortcuts, generated from the registry."""
        return self.shortcuts.help_rows()

    def menu(self, title: str) -> QMenu:
        """The top-level menu called ``title`` (e.g. "&Route"), created before Help if new."""
        bar = self.menuBar()
        help_action = None
        for action in bar.actions():
            menu = action.menu()
            if action.text() == title and isinstance(menu, QMenu):
                return menu
            if action.text() == "&Help":
                help_action = action
        created = QMenu(title, self)
        if help_action is None:
            bar.addMenu(created)
        else:
            bar.insertMenu(help_action, created)
        return created

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        shortcut: KeySpec = None,
        *,
        name: str | None = None,
        help: str | None = None,
    ) -> QAction:
        """A menu action, registered (see ui/dispatcher_ui/shortcuts.py): a key bound twice raises
        here."""
        action = self.shortcuts.create(self, text, slot, shortcut, name=name, help=help)
        menu.addAction(action)
        return action

    def _add_dock(
        self, key: str, title: str, body: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(body)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock
