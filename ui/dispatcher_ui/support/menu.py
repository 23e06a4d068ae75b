"""The Support menu: Where is my order… (Ctrl+Shift+W), Flight recorder… (Ctrl+Shift+B),
Shift handover…. Each dialog opens once the desk's user is known (read off the GUI thread);
a second press brings the open one to the front instead of opening another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from dispatcher.messaging.settings import messaging_settings
from dispatcher.model.users import User
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDialog

    from dispatcher_ui.shell import Shell


def install(window: Shell) -> None:
    menu = window.menu("&Support")
    window._action(
        menu,
        "&Where is my order…",
        lambda: open_order_search(window),
        "Ctrl+Shift+W",
        help="Find an order by reference, customer name or phone",
    )
    window._action(
        menu,
        "&Flight recorder…",
        lambda: open_flight_recorder(window),
        "Ctrl+Shift+B",
        help="Replay what the desk knew: exceptions, ETAs, messages",
    )
    window._action(menu, "Shift &handover…", lambda: open_handover(window))


def _raise(dialog: QDialog) -> None:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()


def _with_user(window: Shell, what: str, show: Callable[[User], None]) -> None:
    core = window.core

    def failed(exc: Exception) -> None:
        window.statusBar().showMessage(f"{what}: {exc}", 10000)

    run_in_background(lambda: core.user, show, failed)


def open_order_search(window: Shell) -> None:
    from dispatcher_ui.support.order_search import OrderSearchDialog

    existing = getattr(window, "order_search_dialog", None)
    if isinstance(existing, OrderSearchDialog) and existing.isVisible():
        _raise(existing)
        existing.query.setFocus()
        existing.query.selectAll()
        return
    core = window.core

    def show(user: User) -> None:
        region = messaging_settings(core.settings.sections.get("messaging")).region
        dialog = OrderSearchDialog(core, user, region, window)
        window.order_search_dialog = dialog
        _raise(dialog)
        dialog.query.setFocus()

    _with_user(window, "Where is my order", show)


def open_flight_recorder(window: Shell) -> None:
    from dispatcher_ui.support.flight_recorder import FlightRecorderDialog

    day = window.service_day or window.core.today()
    dialog = FlightRecorderDialog(window.core, day, window, map_replay=_map_replay(window))
    window.flight_recorder_dialog = dialog
    _raise(dialog)
    dialog.load()


def open_handover(window: Shell) -> None:
    from dispatcher_ui.support.handover_dialog import HandoverDialog

    core = window.core

    def show(user: User) -> None:
        day = window.service_day or core.today()
        dialog = HandoverDialog(core, user, day, window)
        window.handover_dialog = dialog
        _raise(dialog)

    _with_user(window, "Shift handover", show)


def _map_replay(
    window: Shell,
) -> tuple[Callable[[datetime, datetime], None], Callable[[datetime], None]]:
    """Load a period into the history dock's replay bar, and seek it (the map draws it)."""
    from dispatcher_ui.history import dock as history_dock
    from dispatcher_ui.history.replay_bar import ReplayBar

    def load(start: datetime, end: datetime) -> None:
        bar = history_dock.open_replay(window)
        bar.set_range(start, end)
        bar.load()

    def seek(at: datetime) -> None:
        bar = window.rooms.find(ReplayBar)
        if bar is not None:
            bar.seek(at)

    return load, seek
