"""Waiting for the main window's routes: they are read off the GUI thread.

:meth:`dispatcher_ui.main_window.MainWindow.reload_routes` (at start, F5, a day picked, after an
import) reads the database in a worker and fills the boards when the answer arrives; a test that
looks at the boards waits for that first, as a dispatcher waits for the boards to fill.
"""

from __future__ import annotations

from typing import Any

from dispatcher_ui.main_window import MainWindow


def wait_for_routes(qtbot: Any, window: MainWindow, timeout: int = 15000) -> None:
    """Wait until the newest route reload asked of ``window`` is on its boards."""
    qtbot.waitUntil(lambda: not window.routes_loading, timeout=timeout)
