"""The route boards' panel as its dialogs and the other rooms see it: :class:`BoardsHost`.

The insert and optimize dialogs, the map's position fixer and the new-order form need the
panel's :class:`~dispatcher_ui.routes.controller.BoardController` and a few of its helpers, while
``ui/dispatcher_ui/routes/panel.py`` opens those dialogs: naming ``RoutesPanel`` from them closed an
import cycle. They name this leaf base class instead, and find the panel in the window's room
registry with ``window.rooms.find(BoardsHost)`` (:mod:`dispatcher_ui.rooms`).

A ``QWidget`` base class rather than a Protocol because the dialogs use the panel as their Qt
parent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QWidget

if TYPE_CHECKING:
    from dispatcher_ui.routes.controller import BoardController
    from dispatcher_ui.routes.live import LiveBoardUpdates


class BoardsHost(QWidget):
    """The route boards' panel (implemented by :class:`dispatcher_ui.routes.panel.RoutesPanel`)."""

    controller: BoardController
    #: Drivers' progress and other workstations' route changes, without F5.
    live: LiveBoardUpdates
    # The dialogs put themselves here when they open (tests wait for them); RoutesPanel
    # narrows them to the dialogs' own classes.
    last_optimize_dialog: QDialog | None
    last_insert_dialog: QDialog | None

    def _vehicle_label(self, vid: str) -> str:
        """The board title of vehicle ``vid`` (its name, or the id)."""
        raise NotImplementedError
