"""The live map dock (Leaflet in a QWebEngineView, built with folium).

``build(window)`` returns the dock's body; ``install(window)`` runs once the window's menus
exist (menu actions, shortcuts, tick hook) and raises the map over the Fleet tab: the map is
where the dispatcher's eyes rest. Map > Fix position on map… is
:mod:`dispatcher_ui.map.fix_position`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QLabel, QVBoxLayout, QWidget

from dispatcher_ui.map.controller import MapController
from dispatcher_ui.map.fix_position import KEYS as FIX_KEYS
from dispatcher_ui.map.fix_position import PositionFixer
from dispatcher_ui.map.view import MapView
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)


def build(window: Shell) -> QWidget:
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    view = MapView(body)
    controller = MapController(window, view)
    window.rooms.add(controller)
    if controller.problems:
        note = QLabel(" · ".join(controller.problems))
        note.setObjectName("mapProblems")
        note.setWordWrap(True)
        layout.addWidget(note)
    layout.addWidget(view, 1)
    return body


def install(window: Shell) -> None:
    controller = window.room(MapController)
    window.tick_hooks.append(controller.tick)
    window.close_hooks.append(controller.close)
    window.day_hooks.append(controller.show_day)
    menu = window.menu("&Map")
    window._action(
        menu, "&Fit to fleet", controller.fit_fleet, "Ctrl+Shift+F", help="Map: fit to fleet"
    )
    window._action(
        menu,
        "Follow &selected vehicle",
        controller.toggle_follow,
        "Ctrl+Shift+L",
        help="Map: follow the selected vehicle",
    )
    window._action(
        menu,
        "Show selected &route",
        controller.fit_route,
        "Ctrl+Shift+R",
        help="Map: show the selected route",
    )
    menu.addSeparator()
    fixer = PositionFixer(window, controller)
    window.rooms.add(fixer)
    window._action(
        menu,
        "Fix &position on map…",
        fixer.fix_selected,
        FIX_KEYS,
        help="Map: fix where the selected order is (click it on the map)",
    )
    window._action(menu, "&Undo position fix", fixer.undo, help="Map: undo the last position fix")
    file_menu = window.menu("&File")
    export = window.shortcuts.create(window, "Export &map as HTML…", lambda: export_dialog(window))
    actions = file_menu.actions()
    quit_at = next((i for i, a in enumerate(actions) if a.text() == "&Quit"), None)
    if quit_at is None:
        file_menu.addAction(export)
    else:  # before the separator above Quit
        file_menu.insertAction(actions[max(quit_at - 1, 0)], export)
    window.docks["map"].raise_()


def export_dialog(window: Shell) -> None:
    path, _ = QFileDialog.getSaveFileName(
        window, "Export map as HTML", "routes.html", "HTML files (*.html)"
    )
    if path:
        export_to(window, Path(path))


def export_to(window: Shell, path: Path) -> None:
    """Export the day's routes to ``path`` off the GUI thread; the status bar says how it went.

    The fleet's last positions are taken here (the fleet state lives on the GUI thread); the
    routes are read and the file is written in a worker.
    """
    from dispatcher_ui.map.export import export_day

    controller = window.room(MapController)
    snapshots = controller.fleet.snapshots()
    core, tz = window.core, window.routes_model.timezone
    window.statusBar().showMessage(f"Exporting the map to {path}…")

    def work() -> int:
        return export_day(core.load_routes(window.service_day), snapshots, path, tz)

    def done(stops: int) -> None:
        window.statusBar().showMessage(f"Map with {stops} stops exported to {path}", 10000)

    def failed(exc: Exception) -> None:  # a failed export is reported, never a crash
        log.warning("map export failed: %s", exc)
        window.statusBar().showMessage(f"Could not export the map: {exc}", 10000)

    run_in_background(work, done, failed)
