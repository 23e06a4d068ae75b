"""The Fleet menu: Fleet setup… (the dialog opens once the desk's user is known)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dispatcher.model.users import User
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell


def install(window: Shell) -> None:
    menu = window.menu("F&leet")
    window._action(menu, "Fleet &setup…", lambda: open_fleet_setup(window))


def open_fleet_setup(window: Shell) -> None:
    """Resolve who is at the desk off the GUI thread, then show the dialog."""
    from dispatcher_ui.fleet_setup.dialog import FleetSetupDialog

    core = window.core

    def show(user: User) -> None:
        dialog = FleetSetupDialog(core, user, window.routes_model.timezone, window)
        window.fleet_setup_dialog = dialog
        dialog.show()

    def failed(exc: Exception) -> None:
        window.statusBar().showMessage(f"Fleet setup: {exc}", 10000)

    run_in_background(lambda: core.user, show, failed)
