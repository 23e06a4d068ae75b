"""Map > Fix position on map… (Ctrl+Alt+P): the dispatcher drops a pin where an order is.

1. The selected stop (the window's one selection: a route board row, a stop on the map, an
   exception's stop; or the row a board's context menu was opened on) is read off the GUI
   thread: who and where it is, and the version the fix is made from.
2. The map's pick mode (:mod:`dispatcher_ui.map.pick`) asks for the click.
3. The click is saved off the GUI thread by the core
   (:mod:`dispatcher.importing.positions`): permission, optimistic lock on the
   stop's version, audit under the desk's user, the address's pin, the route's new version.
4. The route boards take the new place into their plan and re-evaluate it: new ETAs in the
   one table (:mod:`dispatcher.planning.stop_eta`) the boards and the map show; the driver
   gets the route again and the other desks a sync note. The map re-reads the day, so the
   stop's marker moves.

Map > Undo position fix takes this desk's last fix back the same way (a second audited
write). It is not on the route boards' Ctrl+Z: their undo stack saves stop orders on the
spot, whereas a position is saved off the GUI thread under its own lock, and a fix that
another desk overtook must be refused, not silently reverted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject

from dispatcher.errors import ConflictError, DispatcherError, PermissionDenied
from dispatcher.importing.positions import fix_position, read_place, undo_fix
from dispatcher.model.core import StopStatus
from dispatcher.model.positions import PositionFix, StopPlace
from dispatcher.model.users import Permission, require
from dispatcher_ui.map.pick import PickRequest, PositionPicker
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.map.controller import MapController
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)

KEYS = "Ctrl+Alt+P"


class _Relocates(Protocol):
    def relocate(
        self,
        stop_id: int,
        position: tuple[float, float],
        route: tuple[str, int, int] | None = None,
    ) -> bool: ...


class _Reloads(Protocol):
    def reload(self) -> None: ...


class RouteBoards(Protocol):
    """What the fixer tells the route boards. The routes room plugs itself in when it is
    installed (``ui/dispatcher_ui/routes/dock.py``), so the map never imports the boards (no import
    cycle between ``dispatcher_ui.map`` and ``dispatcher_ui.routes``, which shows map pages in its
    optimize preview)."""

    @property
    def controller(self) -> _Relocates: ...

    @property
    def live(self) -> _Reloads: ...


class PositionFixer(QObject):
    """Fix position on map… and its undo, for this desk (one at a time)."""

    def __init__(self, window: Shell, controller: MapController) -> None:
        super().__init__(window)
        self.window = window
        self.map = controller
        self.picker: PositionPicker = controller.picker
        #: This desk's last fix (what Undo position fix takes back), if any.
        self.last: PositionFix | None = None
        #: A stop is being read or a position saved: one at a time.
        self.busy = False
        #: The route boards to move a fixed stop on (none in a window without them).
        self.boards: RouteBoards | None = None
        #: The last sentence shown (the status bar forgets; tests and bug reports do not).
        self.last_message = ""

    # --- actions --------------------------------------------------------------------------
    def fix_selected(self) -> None:
        """Fix the position of the stop selected anywhere in the window."""
        stop_id = self.window.selection.current.stop_id
        if stop_id is None:
            self._say(
                "Select a stop first (a row on a route board, or a stop on the map), "
                f"then Fix position on map ({KEYS})"
            )
            return
        self.fix(int(stop_id))

    def fix(self, stop_id: int) -> None:
        """Read the stop as it is now (off the GUI thread), then ask for the click."""
        if self.busy:
            self._say("Still saving the last position; try again in a moment")
            return
        try:  # a viewer is told at once, not after the click (the core checks again)
            require(self.window.core.user, Permission.FIX_POSITIONS)
        except PermissionDenied as exc:
            self._say(f"Not allowed — {exc}")
            return
        self.busy = True
        db = self.window.core.db

        def read() -> StopPlace:
            return read_place(db, stop_id)

        run_in_background(read, self._read, self._refused)

    def undo(self) -> None:
        """Put this desk's last fixed stop back where it was (and its address's pin)."""
        fix = self.last
        if fix is None:
            self._say("No position fix to undo")
            return
        if self.busy:
            self._say("Still saving the last position; try again in a moment")
            return
        self.busy = True
        db, actor = self.window.core.db, self.window.core.user.id

        def work() -> PositionFix:
            return undo_fix(db, fix, actor=actor)

        self._say(f"Putting order {fix.order_ref} back…")
        run_in_background(work, lambda done: self._saved(done, undo=True), self._refused)

    # --- steps ----------------------------------------------------------------------------
    def _read(self, place: StopPlace) -> None:
        self.busy = False
        if place.status == StopStatus.DONE.value:
            self._say(f"Order {place.order_ref} is delivered already: its position stays")
            return
        self.picker.start(
            PickRequest(
                place.title(),
                lambda lat, lon: self._save(place, lat, lon),
                lambda: self._say(f"Position of order {place.order_ref} not changed"),
                (place.lat, place.lon),
            )
        )

    def _save(self, place: StopPlace, lat: float, lon: float) -> None:
        self.busy = True
        db, actor = self.window.core.db, self.window.core.user.id

        def work() -> PositionFix:
            return fix_position(db, place.id, lat, lon, expected_version=place.version, actor=actor)

        self._say(f"Saving the position of order {place.order_ref}…")
        run_in_background(work, lambda fix: self._saved(fix, undo=False), self._refused)

    def _saved(self, fix: PositionFix, *, undo: bool) -> None:
        self.busy = False
        self.last = None if undo else fix
        self.picker.clear_pin()
        route = fix.route
        panel = self.boards
        if panel is not None:
            panel.controller.relocate(
                fix.stop_id,
                fix.after,
                None if route is None else (route.vehicle_id, route.route_id, route.version),
            )
        self.map.refresh_routes()
        where = f"{fix.after[0]:.5f}, {fix.after[1]:.5f}"
        if undo:
            self._say(f"Order {fix.order_ref} is back at {where}; ETAs updated")
            return
        remembered = "; its address will land there on the next import" if fix.remembered else ""
        self._say(
            f"Order {fix.order_ref} placed at {where}; ETAs updated{remembered}. "
            "Map > Undo position fix takes it back"
        )

    def _refused(self, exc: Exception) -> None:
        self.busy = False
        self.picker.clear_pin()
        if isinstance(exc, ConflictError):
            self._say(f"Not saved — {exc}. The map and boards show it as it is now.")
            self.map.refresh_routes()
            panel = self.boards
            if panel is not None:
                panel.live.reload()
        elif isinstance(exc, DispatcherError):
            self._say(f"Not saved — {exc}")
        else:  # a bug: the worker logged it; the dispatcher still gets a sentence
            self._say(f"Not saved — unexpected error: {exc}")

    def _say(self, text: str) -> None:
        self.last_message = text
        self.window.statusBar().showMessage(text, 20000)
