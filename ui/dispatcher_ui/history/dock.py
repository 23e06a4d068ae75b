"""The history room in the window: the Replay dock, proof of visit, the day report export.

``build(window)`` returns the replay bar; ``install(window)`` puts it in a dock of its own
(hidden until a replay starts), adds the History menu and File > Export day report, and wires
replay frames to the map. The map shows frames through two methods it is expected to offer on
the window's :class:`~dispatcher_ui.map.controller.MapController` room: ``show_replay(frame)`` (a
:class:`~dispatcher.history.replay.ReplayFrame`) and ``end_replay()`` (back to live). While
the map lacks them the replay still runs (the bar, slider and events work) and the status bar
says that the map cannot draw it yet.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QWidget

from dispatcher.errors import DispatcherError
from dispatcher.history.replay import ReplayFrame
from dispatcher_ui.history.replay_bar import ReplayBar
from dispatcher_ui.history.visit_dialog import ProofOfVisitDialog
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)

#: How far around an exception "Replay around exception" looks, each way.
AROUND = timedelta(minutes=30)
#: The shortcut context of the replay bar's own keys (live while the bar has focus).
REPLAY_BAR = "replay bar"


def _tz(window: Shell) -> ZoneInfo:
    return window.routes_model.timezone


def build(window: Shell) -> QWidget:
    bar = ReplayBar(window.core, _tz(window))
    window.rooms.add(bar)
    bar.frame_ready.connect(lambda frame: show_frame(window, frame))
    bar.left.connect(lambda: leave_replay(window))
    bar.status.connect(lambda text: window.statusBar().showMessage(text, 10000))
    return bar


def install(window: Shell) -> None:
    bar = window.rooms.find(ReplayBar) or build(window)
    dock = QDockWidget("Replay", window)
    dock.setObjectName("dock_history")
    dock.setWidget(bar)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.docks["history"] = dock
    if "kpis" in window.docks:
        window.tabifyDockWidget(window.docks["kpis"], dock)
    dock.hide()
    menu = window.menu("Histor&y")
    window._action(
        menu,
        "&Replay…",
        lambda: open_replay(window),
        "Ctrl+Shift+Y",
        help="History: replay a time range",
    )
    window._action(
        menu,
        "Replay around selected &exception",
        lambda: replay_around_selected_alert(window),
        "Ctrl+Alt+Y",
        help="History: replay ±30 min around the selected exception",
    )
    window._action(
        menu,
        "&Proof of visit…",
        lambda: open_proof_of_visit(window),
        "Ctrl+Shift+V",
        help="History: proof of visit",
    )
    _add_export_action(window)
    window.shortcuts.add_key(REPLAY_BAR, "play", "Space", "Replay: play / pause")


def _add_export_action(window: Shell) -> None:
    file_menu = window.menu("&File")
    export = window.shortcuts.create(window, "Export &day report…", lambda: export_dialog(window))
    actions = file_menu.actions()
    quit_action = next((a for a in actions if a.text() == "&Quit"), None)
    if quit_action is None:
        file_menu.addAction(export)
    else:  # before the separator above Quit
        file_menu.insertAction(actions[actions.index(quit_action) - 1], export)


# -- replay -------------------------------------------------------------------------------
def open_replay(window: Shell) -> ReplayBar:
    dock = window.docks["history"]
    dock.show()
    dock.raise_()
    return window.room(ReplayBar)


def replay_around(window: Shell, at: datetime, around: timedelta = AROUND) -> ReplayBar:
    """Open the replay on ``at`` ± ``around`` and load it (for exceptions and the timeline)."""
    bar = open_replay(window)
    bar.set_range(at - around, at + around)
    bar.load()
    return bar


def replay_around_selected_alert(window: Shell) -> None:
    alert_id = window.selection.current.alert_id
    if alert_id is None:
        window.statusBar().showMessage("Select an exception first, then replay around it.", 8000)
        return
    from dispatcher.alerts.desk import alert_by_id

    db = window.core.db

    def first_seen() -> datetime:  # off the GUI thread
        return alert_by_id(db, alert_id).first_seen

    def found(at: datetime) -> None:
        if shiboken6.isValid(window):
            replay_around(window, at)

    def failed(exc: Exception) -> None:
        if shiboken6.isValid(window):
            window.statusBar().showMessage(f"Cannot replay this exception: {exc}", 10000)

    run_in_background(first_seen, found, failed)


def show_frame(window: Shell, frame: ReplayFrame) -> None:
    """Hand a frame to the map (if it can draw replays)."""
    from dispatcher_ui.map.controller import MapController

    controller = window.rooms.find(MapController)  # none when the map is not built
    show = None if controller is None else controller.show_replay
    if show is None:
        if not getattr(window, "_replay_map_warned", False):
            window._replay_map_warned = True
            window.statusBar().showMessage("The map cannot draw replays yet.", 10000)
        return
    try:
        show(frame)
    except Exception:
        log.exception("the map failed to draw a replay frame")


def leave_replay(window: Shell) -> None:
    from dispatcher_ui.map.controller import MapController

    controller = window.rooms.find(MapController)
    end = None if controller is None else controller.end_replay
    if end is not None:
        try:
            end()
        except Exception:
            log.exception("the map failed to leave replay")
    window.docks["history"].hide()
    window.statusBar().showMessage("Back to live.", 5000)


# -- proof of visit -----------------------------------------------------------------------
def selected_stop_point(window: Shell) -> tuple[float, float] | None:
    """Where the selected stop is, from the day the route boards hold (no database read)."""
    stop_id = window.selection.current.stop_id
    from dispatcher_ui.routes.panel import RoutesPanel

    day = window.room(RoutesPanel).controller.day
    if stop_id is None or day is None:
        return None
    view = day.stops.get(str(stop_id))
    return None if view is None else (view.lat, view.lon)


def open_proof_of_visit(window: Shell) -> ProofOfVisitDialog:
    dialog = ProofOfVisitDialog(
        window.core, _tz(window), window, point_of_selection=lambda: selected_stop_point(window)
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if window.selection.current.stop_id is not None:
        dialog.use_selected_stop()
    dialog.show()
    return dialog


# -- day report ---------------------------------------------------------------------------
def report_day(window: Shell) -> date:
    return window.service_day or window.core.clock.now().astimezone(_tz(window)).date()


def export_dialog(window: Shell) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Export day report into folder")
    if folder:
        export_to(window, Path(folder))


def export_to(window: Shell, folder: Path, day: date | None = None) -> None:
    """Write the day's CSV and HTML map into ``folder`` off the GUI thread."""
    from dispatcher_ui.history.report_map import export_day_report

    day = day or report_day(window)
    db, tz = window.core.db, str(_tz(window))
    window.statusBar().showMessage(f"Exporting the day report of {day}…")

    def done(paths: tuple[Path, Path]) -> None:
        window.last_day_report = paths
        window.statusBar().showMessage(f"Day report written: {paths[0]} and {paths[1].name}", 15000)

    def failed(exc: Exception) -> None:
        text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        window.statusBar().showMessage(f"Could not export the day report: {text}", 15000)

    run_in_background(lambda: export_day_report(db, day, tz, folder), done, failed)
