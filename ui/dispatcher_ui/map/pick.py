"""Pick mode on the live map: the dispatcher clicks where an order really is.

One pick at a time, for whoever asks (Map > Fix position on map…, New order… > Place on
map): :meth:`PositionPicker.start` brings the map to the front, turns its cursor into a
crosshair and puts a banner "Click where <customer, address> is — Esc to cancel" over it (the
page's side is resources/map/pick.js). A click is checked by the core's one rule
(:func:`dispatcher.geo.check_position`): a click on a copy of the world the map repeats, or on
0,0, is refused with the reason in the banner and the status bar, and the mode goes on.
Otherwise the mode ends, a pin marks the spot while the asker saves, and the asker's
``on_pick`` runs. Esc (anywhere in the window, or in the page), a right click on the map, or a
new pick cancels: the asker's ``on_cancel`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut

from dispatcher.errors import ValidationError
from dispatcher.geo import check_position
from dispatcher_ui.map.view import MapView

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

#: The registry context of the pick mode's key (it only works while picking).
CONTEXT = "map pick"
CANCEL = "cancel"


@dataclass(frozen=True)
class PickRequest:
    """Who asks for a position, and what to do with it."""

    #: Who and where, as the dispatcher knows the order: "Ann Smith, 1 Piccadilly".
    title: str
    on_pick: Callable[[float, float], None]
    on_cancel: Callable[[], None]
    #: Where the order is now (a dashed ring, and the map centres on it), if anywhere.
    here: tuple[float, float] | None = None

    @property
    def banner(self) -> str:
        return f"Click where {self.title} is — Esc to cancel"


class PositionPicker(QObject):
    """The map's pick mode; see the module docstring."""

    def __init__(self, window: Shell, view: MapView) -> None:
        super().__init__(window)
        self.window = window
        self.view = view
        self.request: PickRequest | None = None
        view.bridge.position_picked.connect(self._picked)
        view.bridge.pick_cancelled.connect(self.cancel)
        view.pageReady.connect(self._show)  # a reloaded page is put back in pick mode
        self.escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        self.escape.setContext(Qt.ShortcutContext.WindowShortcut)
        self.escape.setEnabled(False)  # Esc means nothing to the window otherwise
        self.escape.activated.connect(self.cancel)
        window.shortcuts.add_key(CONTEXT, CANCEL, "Esc", "Cancel placing an order on the map")

    @property
    def active(self) -> bool:
        return self.request is not None

    def start(self, request: PickRequest) -> None:
        """Ask for a click on the map (a pick already running is cancelled first)."""
        previous, self.request = self.request, request
        if previous is not None:
            previous.on_cancel()
        dock = self.window.docks.get("map")
        if dock is not None:
            dock.show()
            dock.raise_()
        self.escape.setEnabled(True)
        self._show()
        self.window.statusBar().showMessage(f"{request.banner} (or right-click the map)")

    def cancel(self) -> None:
        request = self.request
        if request is None:
            return
        self._end()
        request.on_cancel()

    def clear_pin(self) -> None:
        """The asker is done with the spot (saved, or refused): the pin goes."""
        self.view.run("DispatcherMap.clearPin")

    def _show(self) -> None:
        request = self.request
        if request is not None:
            here = list(request.here) if request.here is not None else None
            self.view.run("DispatcherMap.pickStart", request.banner, here)

    def _picked(self, lat: float, lon: float) -> None:
        request = self.request
        if request is None:
            return
        try:
            lat, lon = check_position(lat, lon)
        except ValidationError as exc:
            text = f"Not there: {exc}. Click again — Esc to cancel"
            self.view.run("DispatcherMap.pickNote", text)
            self.window.statusBar().showMessage(text, 15000)
            return
        self._end()
        self.view.run("DispatcherMap.showPin", lat, lon)
        request.on_pick(lat, lon)

    def _end(self) -> None:
        self.request = None
        self.escape.setEnabled(False)
        self.view.run("DispatcherMap.pickEnd")
