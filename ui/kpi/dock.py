"""The KPIs dock: live key figures and the route timeline (pyqtgraph).

``build(window)`` returns the dock's body; ``install(window)`` runs once the window's menus
exist (menu actions, shortcuts, tick hooks, selection wiring).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def build(window: MainWindow) -> QWidget:
    from ui.main_window import PLACEHOLDERS, placeholder

    return placeholder(*PLACEHOLDERS["kpis"])


def install(window: MainWindow) -> None:
    """Nothing to add to the window yet."""
