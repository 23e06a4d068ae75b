"""The Routes dock: route boards with drag and drop, locks, undo, optimize and insertion.

``build(window)`` returns the dock's body (and sets ``window.routes_panel`` and
``window.route_filter``); ``install(window)`` adds the Route menu, shortcuts and the tick hook
that refreshes ETAs from live positions and merges the drivers' progress (ui/routes/live.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from ui.routes.panel import RoutesPanel

if TYPE_CHECKING:
    from dispatcher.persistence.fleet_repo import RouteView
    from ui.main_window import MainWindow

SHORTCUTS = [
    ("Ctrl+Z", "Undo the last route change"),
    ("Ctrl+Shift+Z", "Redo"),
    ("Alt+Up / Alt+Down", "Move the selected stops up / down"),
    ("Ctrl+Shift+M", "Move the selected stops to another vehicle"),
    ("Ctrl+Shift+P", "Pin / unpin the selected stops"),
    ("Ctrl+U", "Best place for the selected (urgent) stop"),
    ("Ctrl+R", "Optimize the selected route"),
    ("Ctrl+Shift+O", "Optimize the whole fleet"),
]


def build(window: MainWindow) -> QWidget:
    panel = RoutesPanel(window)
    window.routes_panel = panel
    window.route_filter = panel.filter
    return panel


def install(window: MainWindow) -> None:
    """Route menu with shortcuts, help rows, and the throttled live refresh per tick."""
    panel: RoutesPanel = window.routes_panel
    c = panel.controller
    menu = window.menu("&Route")
    actions = [
        ("&Undo route change", c.undo, QKeySequence.StandardKey.Undo),
        ("&Redo route change", c.redo, "Ctrl+Shift+Z"),
        (None, None, None),
        ("Move stops &up", lambda: panel.move_selected(-1), "Alt+Up"),
        ("Move stops &down", lambda: panel.move_selected(1), "Alt+Down"),
        ("Move stops to &vehicle…", panel.choose_vehicle_for_selected, "Ctrl+Shift+M"),
        ("&Pin / unpin", panel.toggle_pin, "Ctrl+Shift+P"),
        ("&Keep on vehicle / release", panel.toggle_keep, None),
        ("Lock &order of selected stops", lambda: panel.lock_order(True), None),
        (None, None, None),
        ("&Best place for selected stop…", panel.suggest_place, "Ctrl+U"),
        ("Optimize &route…", lambda: panel.optimize(fleet=False), "Ctrl+R"),
        ("Optimize &fleet…", lambda: panel.optimize(fleet=True), "Ctrl+Shift+O"),
    ]
    for text, slot, keys in actions:
        if text is None:
            menu.addSeparator()
        else:
            window._action(menu, text, slot, keys)
    compact = QAction("&Compact route boards", window)
    compact.setObjectName("compactBoardsAction")
    compact.setCheckable(True)
    compact.setChecked(panel.compact)
    compact.toggled.connect(panel.set_compact)
    window.menu("&View").addAction(compact)
    panel.compact_action = compact
    window.shortcut_help.extend(SHORTCUTS)
    window.tick_hooks.append(panel.live.tick)


def reload(window: MainWindow, routes: list[RouteView]) -> None:
    """Show freshly loaded routes on the boards (undo history starts afresh)."""
    window.routes_panel.controller.load(routes)
