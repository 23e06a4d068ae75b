"""The Exceptions dock: the alert queue, its detail pane and actions.

``build(window)`` returns the dock's body; ``install(window)`` runs once the window's menus
exist: the Exceptions menu (supervisor view, mute), the per-tick refresh, and the title
counts. The rule runner is the core's (dispatcher/app.py adds it, with the election that
lets a ``dispatcher serve`` or better-placed console raise the alerts, docs/exceptions.md);
if it could not start, the queue says why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QWidget

from dispatcher.alerts.desk import AlertDesk
from dispatcher.app import ALERT_RULES
from dispatcher.errors import DispatcherError
from dispatcher_ui.exceptions.panel import ExceptionsPanel
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)
MUTE_KEY = "exceptions/muted"
#: The shortcut context of the queue's single-letter keys (live while the queue has focus).
QUEUE = "exception queue"


def build(window: Shell) -> QWidget:
    """The queue for the user at the keyboard (OS account → users table)."""
    core = window.core
    desk = AlertDesk(core.db, core.clock, core.bus, timezone=core.fleet.timezone)
    panel = ExceptionsPanel(window, desk, None)
    panel.reload()  # the first read finds the user at the keyboard too, in its worker
    window.rooms.add(panel)
    # Every save names ``core.user`` (read once, then kept): read it now in a worker, so the
    # first drag or message of the session does not wait on the database in the GUI thread.
    run_in_background(lambda: core.user, lambda _user: None, lambda exc: log.debug("%s", exc))
    return panel


def install(window: Shell) -> None:
    panel = window.room(ExceptionsPanel)
    core = window.core
    problem = core.not_started.get(ALERT_RULES)
    if problem is not None:
        panel.show_message(f"Alert rules not started: {problem}", error=True)
    menu = window.menu("E&xceptions")
    for key, action in panel.actions_by_key.items():
        menu.addAction(window.shortcuts.add(action, QUEUE, key))
    menu.addSeparator()
    window._action(menu, "&Supervisor view…", lambda: open_supervisor(window), "Ctrl+Shift+E")
    window._action(menu, "Sort by &priority", panel.sort_by_priority)
    window._action(
        menu, "&Focus the queue", panel.view.setFocus, "F6", help="Focus the exception queue"
    )
    mute = window._action(menu, "&Mute new-critical sound", lambda: None)
    mute.setCheckable(True)
    mute.setChecked(str(window.qsettings.value(MUTE_KEY, "false")).lower() == "true")
    mute.toggled.connect(lambda on: window.qsettings.setValue(MUTE_KEY, "true" if on else "false"))
    window.exceptions_mute = mute
    window.tick_hooks.append(panel.on_tick)
    panel.counts_changed.connect(lambda n, crit, mine: _title(window, n, crit, mine))
    panel.new_critical.connect(lambda ids: _ring(window, panel, ids))
    # The queue is where dispatchers live: in front of its tab group once every room is in.
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, window, lambda: _raise(window))


def _raise(window: Shell) -> None:
    dock = window.docks.get("exceptions")
    if dock is not None:
        dock.raise_()


def _title(window: Shell, total: int, critical: int, mine: int) -> None:
    dock = window.docks.get("exceptions")
    if dock is not None:
        dock.setWindowTitle(f"Exceptions ({total} open · {critical} critical · {mine} mine)")


def _ring(window: Shell, panel: ExceptionsPanel, ids: list[int]) -> None:
    """New critical alerts: a sound (unless muted), a flash of the queue, the taskbar."""
    mute = getattr(window, "exceptions_mute", None)
    if mute is None or not mute.isChecked():
        QApplication.beep()
    QApplication.alert(window, 3000)
    flash(panel)
    panel.show_message(f"New critical exception(s): {critical_list(ids)}")


#: Ids named in the "new critical" line; a fleet's first minutes raise hundreds at once.
NAMED_AT_MOST = 8


def critical_list(ids: list[int]) -> str:
    """``#1, #2, … and 312 more``: one line above the queue, not a wall of ids over it (at
    500 vehicles the full list took five lines of the queue's room, bench/console.py)."""
    named = ", ".join(f"#{i}" for i in ids[:NAMED_AT_MOST])
    rest = len(ids) - NAMED_AT_MOST
    return f"{named} and {rest} more" if rest > 0 else named


def flash(panel: ExceptionsPanel, times: int = 6, period_ms: int = 300) -> None:
    """Blink a red frame around the queue ``times`` times.

    The frame is a childless overlay shown and hidden over the view: a style sheet set on
    the view itself (as before) re-polished the view, its headers and scroll bars and laid
    them out again at every blink, on the GUI thread, while a fleet's first minutes raise
    new critical alerts at every reload (bench/console.py). The overlay and its timer are
    owned by the view: a window closed mid-flash leaves no callback behind that would touch
    a deleted widget.
    """
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QFrame

    view = panel.view
    frame = QFrame(view)
    frame.setObjectName("exceptionsFlash")
    frame.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    frame.setStyleSheet("QFrame#exceptionsFlash { border: 2px solid #d32f2f; }")
    frame.setGeometry(view.rect())
    frame.show()
    frame.raise_()
    timer = QTimer(frame)
    timer.setInterval(period_ms)
    state = {"left": times}

    def step() -> None:
        state["left"] -= 1
        if state["left"] <= 0:
            timer.stop()
            frame.hide()
            frame.deleteLater()
            return
        frame.setGeometry(view.rect())
        frame.setVisible(state["left"] % 2 == 1)

    timer.timeout.connect(step)
    timer.start()


def open_supervisor(window: Shell) -> None:
    from PySide6.QtWidgets import QMessageBox

    from dispatcher_ui.exceptions.supervisor import SupervisorDialog

    panel = window.room(ExceptionsPanel)
    if not panel.user.is_supervisor:
        QMessageBox.information(
            window,
            "Supervisor view",
            f"{panel.user.id} is a {panel.user.role.value}: the supervisor view is for "
            "supervisors (set the role in the users table, see docs/exceptions.md).",
        )
        return
    try:
        dialog = SupervisorDialog(panel.desk, window)
    except DispatcherError as exc:
        QMessageBox.warning(window, "Supervisor view", str(exc))
        return
    dialog.exec()
