"""The live map dock (Leaflet in a QWebEngineView, built with folium).

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

    return placeholder(*PLACEHOLDERS["map"])


def install(window: MainWindow) -> None:
    """Nothing to add to the window yet."""
