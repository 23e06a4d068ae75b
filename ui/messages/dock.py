"""The Messages dock: outbox and history, templates, and one-click sending.

``build(window)`` returns the dock's body; ``install(window)`` runs once the window's menus
exist (the Messages menu, Ctrl+M, the per-tick refresh).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from dispatcher.errors import DispatcherError

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def build(window: MainWindow) -> QWidget:
    from ui.main_window import PLACEHOLDERS, placeholder
    from ui.messages.actions import messaging_service
    from ui.messages.panel import MessagesPanel

    try:
        service = messaging_service(window)
    except DispatcherError as exc:
        title, _ = PLACEHOLDERS["messages"]
        return placeholder(title, f"Messaging is not available: {exc}")
    panel = MessagesPanel(window, service)
    window.messages_panel = panel  # type: ignore[attr-defined]
    return panel


def install(window: MainWindow) -> None:
    """The Messages menu, its shortcuts and the outbox's per-tick refresh."""
    from PySide6.QtGui import QAction, QKeySequence

    from ui.messages.actions import message_customer, notify_route_eta_moved

    panel = getattr(window, "messages_panel", None)
    if panel is None:
        return
    menu = window.menu("&Messages")

    def add(text: str, slot: object, shortcut: str | None = None) -> None:
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)

    def message_selected() -> None:
        stop_id = window.selection.current.stop_id
        if stop_id is None:
            window.statusBar().showMessage("Select a stop first.", 5000)
            return
        message_customer(window, stop_id)

    add("&Message customer of selected stop", message_selected, "Ctrl+M")
    add("&Notify route customers whose ETA moved…", lambda: notify_route_eta_moved(window))

    def history() -> None:  # not the action's "checked" argument as a stop id
        panel.show_stop_history()

    add("Message &history of selected stop", history, "Ctrl+Shift+M")
    add("Show &outbox", panel.reveal)
    add("Edit &templates…", lambda: (panel.reveal(), panel.tabs.setCurrentIndex(1)))
    window.tick_hooks.append(panel.tick)
    window.shortcut_help.append(("Ctrl+M", "Message the selected stop's customer"))
    window.shortcut_help.append(("Ctrl+Shift+M", "Message history of the selected stop"))
