"""The Messages dock: outbox and history, templates, and one-click sending.

``build(window)`` returns the dock's body; ``install(window)`` runs once the window's menus
exist (the Messages menu, Ctrl+M, the per-tick refresh).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from dispatcher.errors import DispatcherError

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

#: Message history of the selected stop.
HISTORY_KEY = "Ctrl+Shift+H"


def build(window: Shell) -> QWidget:
    from dispatcher_ui.messages.actions import messaging_service
    from dispatcher_ui.messages.panel import MessagesPanel
    from dispatcher_ui.shell import PLACEHOLDERS, placeholder

    try:
        service = messaging_service(window)
    except DispatcherError as exc:
        title, _ = PLACEHOLDERS["messages"]
        return placeholder(title, f"Messaging is not available: {exc}")
    panel = MessagesPanel(window, service)
    window.rooms.add(panel)
    return panel


def install(window: Shell) -> None:
    """The Messages menu, its shortcuts and the outbox's per-tick refresh."""
    from dispatcher_ui.messages.actions import message_customer, notify_route_eta_moved
    from dispatcher_ui.messages.panel import MessagesPanel

    panel = window.rooms.find(MessagesPanel)  # none when messaging is unavailable
    if panel is None:
        return
    menu = window.menu("&Messages")

    def add(text: str, slot: Callable[[], object], shortcut: str | None = None, **kw: str) -> None:
        window._action(menu, text, slot, shortcut, **kw)

    def message_selected() -> None:
        stop_id = window.selection.current.stop_id
        if stop_id is None:
            window.statusBar().showMessage("Select a stop first.", 5000)
            return
        message_customer(window, stop_id)

    add(
        "&Message customer of selected stop",
        message_selected,
        "Ctrl+M",
        help="Message the selected stop's customer",
    )
    add("&Notify route customers whose ETA moved…", lambda: notify_route_eta_moved(window))

    def history() -> None:  # not the action's "checked" argument as a stop id
        panel.show_stop_history()

    # Not Ctrl+Shift+M: that moves the selected stops to another vehicle (Route menu).
    add("Message &history of selected stop", history, HISTORY_KEY)
    add("Show &outbox", panel.reveal)

    def templates() -> None:
        panel.reveal()
        panel.tabs.setCurrentIndex(1)

    add("Edit &templates…", templates)
    window.tick_hooks.append(panel.tick)
