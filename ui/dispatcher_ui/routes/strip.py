"""The Routes panel's scroll row: one slot per shown vehicle, a board widget only near the view.

A board is a frame with a header and a table view: Qt building, laying out and painting 501 of
them held the GUI thread for seconds at 500 vehicles (``bench/console.py``). The row keeps
what is cheap for every vehicle — its place and width, plain integers — and builds a
:class:`~dispatcher_ui.routes.board.VehicleBoard` only for the slots in (or one view's width
beside) the visible part of the row, placed by hand (no layout to re-run over the fleet).
Boards scrolled far away are deleted again once more than :data:`KEEP_AWAY` of them exist,
least recently seen first; the active board is never deleted. So the window's build and every
refresh cost the same for 12 vehicles as for 500.

A slot not built yet is :attr:`BoardStrip.estimate` pixels wide (the first board's width);
once built it takes its board's real width. A change of width left of the view moves the
scroll position by as much, so what the dispatcher looks at does not jump.

:class:`Boards` is the panel's ``boards`` mapping: ``boards[vid]`` builds the board if needed
(selection from the map, tests, dialogs); iterating yields only the boards that exist now.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QScrollArea, QWidget

if TYPE_CHECKING:
    from dispatcher_ui.routes.board import VehicleBoard

#: Boards kept built outside the visible part of the row (a small fleet keeps them all).
KEEP_AWAY = 24
#: Pixels between two boards.
SPACING = 6


class BoardStrip(QWidget):
    """The row's content widget: slots for :attr:`order`, boards built for the visible ones."""

    def __init__(
        self,
        area: QScrollArea,
        make: Callable[[str], VehicleBoard],
        keep: Callable[[VehicleBoard], bool] = lambda b: False,
    ) -> None:
        super().__init__()
        self.area = area
        self._make = make
        self._keep = keep  # boards never deleted (the active one)
        #: Every vehicle that has a slot to fill (shown or not): the day's vehicles.
        self.known: list[str] = []
        self._known_set: set[str] = set()
        #: The shown vehicles, left to right (the filter and the "Boards" chooser decide).
        self.order: list[str] = []
        self._index: dict[str, int] = {}
        self._x: list[int] = [0]
        #: Widths of built boards (kept after a board is deleted again: its slot stays put).
        self._width: dict[str, int] = {}
        self.estimate = 0
        self.built: dict[str, VehicleBoard] = {}
        self._seen: dict[str, None] = {}  # built boards, least recently in view first
        #: Called after each :meth:`sync` (the panel pins the new boards' headers).
        self.on_sync: Callable[[], None] = lambda: None
        self._sync = QTimer(self)
        self._sync.setSingleShot(True)
        self._sync.setInterval(0)
        self._sync.timeout.connect(self.sync)
        area.setWidgetResizable(False)
        area.setWidget(self)
        area.horizontalScrollBar().valueChanged.connect(self.schedule)
        area.viewport().installEventFilter(self)

    # --- which vehicles ------------------------------------------------------------------
    def set_known(self, vehicle_ids: list[str]) -> bool:
        """The day's vehicles; False when they are the ones already known. Boards of another
        list are deleted (a new day, a new fleet)."""
        if vehicle_ids == self.known:
            return False
        for vid in list(self.built):
            self._drop(vid)
        self.known = list(vehicle_ids)
        self._known_set = set(vehicle_ids)
        self._width.clear()
        self.set_order(self.known)
        return True

    def set_order(self, vehicle_ids: list[str]) -> None:
        """Show these vehicles' slots, in this order; the other boards are hidden."""
        vehicle_ids = [v for v in vehicle_ids if v in self._known_set]
        if vehicle_ids == self.order:
            return
        self.order = vehicle_ids
        self._index = {v: i for i, v in enumerate(vehicle_ids)}
        for vid, board in self.built.items():
            if vid not in self._index:
                board.hide()
        self.relayout()

    def is_shown(self, vid: str) -> bool:
        return vid in self._index

    def __contains__(self, vid: object) -> bool:
        return vid in self._known_set

    # --- geometry ------------------------------------------------------------------------
    def width_of(self, vid: str) -> int:
        return self._width.get(vid) or self.estimate or 400

    def x_of(self, vid: str) -> int:
        """The left edge of ``vid``'s slot (0 for a vehicle not shown)."""
        i = self._index.get(vid)
        return 0 if i is None else self._x[i]

    def relayout(self) -> None:
        """Recompute the slots' places and put the built boards there (no Qt layout)."""
        x, xs = 0, [0]
        for vid in self.order:
            x += self.width_of(vid) + SPACING
            xs.append(x)
        self._x = xs
        view = self.area.viewport()
        self.resize(max(x + SPACING, view.width()), view.height())
        self._place()
        self.schedule()

    def _place(self) -> None:
        height = self.height()
        for vid, board in self.built.items():
            i = self._index.get(vid)
            if i is None:
                continue
            board.setGeometry(self._x[i], 0, board.width(), height)
            if board.isHidden():
                board.show()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().height() != event.size().height():
            self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.area.viewport() and event.type() == QEvent.Type.Resize:
            view = self.area.viewport()
            if view.height() != self.height() or self.width() < view.width():
                self.resize(max(self._x[-1] + SPACING, view.width()), view.height())
            self.schedule()
        elif event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            vid = watched.property("vehicleId")
            if isinstance(vid, str) and self.built.get(vid) is watched:
                self._measured(vid, watched.width())
        return False

    def _measured(self, vid: str, width: int) -> None:
        """A built board took a new width: its slot follows, the view does not jump."""
        old = self.width_of(vid)
        self._width[vid] = width
        if width == old or vid not in self._index:
            return
        bar = self.area.horizontalScrollBar()
        left_of_view = self.x_of(vid) + old <= bar.value()
        self.relayout()
        if left_of_view:
            bar.setValue(bar.value() + width - old)

    # --- building and deleting -----------------------------------------------------------
    def schedule(self, *_: object) -> None:
        """Bring the built boards in line with the view once the event loop is free."""
        self._sync.start()

    def visible(self, margin: int | None = None) -> list[str]:
        """The shown vehicles whose slot is in the view, or within ``margin`` px of it (one
        view's width by default)."""
        if not self.order:
            return []
        view = self.area.viewport().width()
        margin = view if margin is None else margin
        left = self.area.horizontalScrollBar().value() - margin
        right = self.area.horizontalScrollBar().value() + view + margin
        first = max(0, bisect.bisect_right(self._x, left) - 1)
        last = bisect.bisect_left(self._x, right)
        return self.order[first : min(last, len(self.order))]

    def sync(self) -> None:
        """Build the boards near the view (their widths settle the places), delete far ones."""
        for _ in range(4):  # built boards may be narrower than estimated: more fit in view
            wanted = self.visible()
            missing = [v for v in wanted if v not in self.built]
            for vid in missing:
                self.board(vid)
            if not missing:
                break
        for vid in self.visible(0):
            self._seen.pop(vid, None)
            self._seen[vid] = None
        self._evict(set(self.visible()))
        self.on_sync()

    def _evict(self, near: set[str]) -> None:
        away = [v for v in self._seen if v not in near and not self._keep(self.built[v])]
        for vid in away[: max(0, len(away) - KEEP_AWAY)]:
            self._drop(vid)

    def board(self, vid: str) -> VehicleBoard:
        """``vid``'s board, built (and placed in its slot) if it was not."""
        board = self.built.get(vid)
        if board is not None:
            return board
        if vid not in self._known_set:
            raise KeyError(vid)
        board = self._make(vid)
        board.setProperty("vehicleId", vid)
        board.setParent(self)
        self.built[vid] = board
        self._seen[vid] = None
        board.installEventFilter(self)
        if not self.estimate and vid:  # the first vehicle's board sizes the slots not built
            self.estimate = board.width()
            self.relayout()
        i = self._index.get(vid)
        if i is None:
            board.hide()
        else:
            board.setGeometry(self._x[i], 0, board.width(), self.height())
            board.show()
            self._measured(vid, board.width())
        return board

    def _drop(self, vid: str) -> None:
        board = self.built.pop(vid)
        self._seen.pop(vid, None)
        board.hide()
        board.deleteLater()

    def reset_widths(self) -> None:
        """Forget measured widths (compact mode, another view width): slots are re-estimated."""
        self._width = {v: b.width() for v, b in self.built.items()}
        widths = [b.width() for v, b in self.built.items() if v]
        self.estimate = sorted(widths)[len(widths) // 2] if widths else 0
        self.relayout()


class Boards:
    """The panel's ``boards``: ``boards[vid]`` builds the board when needed; iterating,
    ``values()`` and ``items()`` see only the boards that exist now; ``vid in boards`` asks
    whether the day has that vehicle."""

    def __init__(self, strip: BoardStrip) -> None:
        self._strip = strip

    def __getitem__(self, vid: str) -> VehicleBoard:
        return self._strip.board(vid)

    def get(self, vid: str, default: VehicleBoard | None = None) -> VehicleBoard | None:
        return self._strip.board(vid) if vid in self._strip else default

    def __contains__(self, vid: object) -> bool:
        return vid in self._strip

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._strip.built))

    def __len__(self) -> int:
        return len(self._strip.built)

    def keys(self) -> list[str]:
        return list(self._strip.built)

    def values(self) -> list[VehicleBoard]:
        return list(self._strip.built.values())

    def items(self) -> list[tuple[str, VehicleBoard]]:
        return list(self._strip.built.items())
