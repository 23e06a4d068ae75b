"""The Routes dock: route boards with drag and drop, locks, undo, optimize and insertion.

``build(window)`` returns the dock's body (and registers the :class:`RoutesPanel` room);
``install(window)`` adds the Route menu, shortcuts and the tick hook that refreshes ETAs from
live positions and merges the drivers' progress (ui/dispatcher_ui/routes/live.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from dispatcher_ui.map.fix_position import PositionFixer
from dispatcher_ui.routes.panel import RoutesPanel
from dispatcher_ui.shortcuts import KeySpec

if TYPE_CHECKING:
    from dispatcher.planning.desk import PreparedDay, RouteView, VehicleView
    from dispatcher_ui.shell import Shell


def build(window: Shell) -> QWidget:
    panel = RoutesPanel(window)
    window.rooms.add(panel)
    return panel


def install(window: Shell) -> None:
    """Route menu with shortcuts, help rows, and the throttled live refresh per tick."""
    panel = window.room(RoutesPanel)
    fixer = window.rooms.find(PositionFixer)  # the map's room, installed before this one
    if fixer is not None:  # a fixed position moves the stop on the boards too
        fixer.boards = panel
    c = panel.controller
    menu = window.menu("&Route")
    actions: list[tuple[str, Callable[[], object], KeySpec, str] | None] = [
        ("&Undo route change", c.undo, QKeySequence.StandardKey.Undo, "Undo the last route change"),
        ("&Redo route change", c.redo, "Ctrl+Shift+Z", "Redo the route change undone"),
        None,
        ("Move stops &up", lambda: panel.move_selected(-1), "Alt+Up", "Move the selected stops up"),
        ("Move stops &down", lambda: panel.move_selected(1), "Alt+Down", "… and down"),
        (
            "Move stops to &vehicle…",
            panel.choose_vehicle_for_selected,
            "Ctrl+Shift+M",
            "Move the selected stops to another vehicle",
        ),
        ("&Pin / unpin", panel.toggle_pin, "Ctrl+Shift+P", "Pin / unpin the selected stops"),
        ("&Keep on vehicle / release", panel.toggle_keep, None, ""),
        ("Lock &order of selected stops", lambda: panel.lock_order(True), None, ""),
        None,
        (
            "&Best place for selected stop…",
            panel.suggest_place,
            "Ctrl+U",
            "Best place for the selected (urgent) stop",
        ),
        ("Optimize &route…", lambda: panel.optimize(fleet=False), "Ctrl+R", ""),
        ("Optimize &fleet…", lambda: panel.optimize(fleet=True), "Ctrl+Shift+O", ""),
    ]
    for row in actions:
        if row is None:
            menu.addSeparator()
        else:
            text, slot, keys, what = row
            window._action(menu, text, slot, keys, help=what or None)
    compact = QAction("&Compact route boards", window)
    compact.setCheckable(True)
    compact.setChecked(panel.compact)
    compact.toggled.connect(panel.set_compact)
    window.shortcuts.add(compact, name="compact route boards", help="Compact route boards")
    window.menu("&View").addAction(compact)
    panel.compact_action = compact
    window.tick_hooks.append(panel.live.tick)


def reload(
    window: Shell,
    routes: list[RouteView],
    vehicles: list[VehicleView],
    prepared: PreparedDay | None = None,
) -> None:
    """Show freshly loaded routes on the boards (undo history starts afresh); ``prepared`` is
    their plan, built in the reading worker (:meth:`RouteDesk.prepare`)."""
    controller = window.room(RoutesPanel).controller
    controller.load(routes, vehicles, day=window.service_day, prepared=prepared)
