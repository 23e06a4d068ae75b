"""The app's one selection: which vehicle, stop and exception the dispatcher is looking at.

Every view (map, route board, exception queue, timeline, KPIs) reads and writes this one
object instead of keeping a copy, so a click anywhere selects the same thing everywhere. A view
that reacts to :attr:`SelectionModel.changed` must not echo the change back as a new one: the
model ignores a selection equal to the current one, and :attr:`Selection.source` tells a view
that the change came from itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True, slots=True)
class Selection:
    """What is selected; any part may be ``None``. ``source`` names the view that chose it."""

    vehicle_id: str | None = None
    stop_id: int | None = None
    alert_id: int | None = None
    source: str = ""

    def same_target(self, other: Selection) -> bool:
        return (self.vehicle_id, self.stop_id, self.alert_id) == (
            other.vehicle_id,
            other.stop_id,
            other.alert_id,
        )


class SelectionModel(QObject):
    """Holds the current :class:`Selection` and announces changes once."""

    #: Emitted with the new :class:`Selection` whenever the target changes.
    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current = Selection()

    @property
    def current(self) -> Selection:
        return self._current

    def select(self, selection: Selection) -> None:
        """Make ``selection`` current; nothing is emitted when the target did not change."""
        if selection.same_target(self._current):
            return
        self._current = selection
        self.changed.emit(selection)

    def select_vehicle(self, vehicle_id: str | None, *, source: str = "") -> None:
        self.select(Selection(vehicle_id=vehicle_id, source=source))

    def select_stop(self, stop_id: int, vehicle_id: str | None = None, *, source: str = "") -> None:
        """Select a stop. The stop already selected (with its exception, if any) is no change:
        a view showing the selection echoes the stop back, and that must not lose the
        exception the dispatcher clicked (Replay around selected exception needs it)."""
        current = self._current
        if current.stop_id == stop_id and vehicle_id in (None, current.vehicle_id):
            return
        self.select(Selection(vehicle_id=vehicle_id, stop_id=stop_id, source=source))

    def select_alert(
        self,
        alert_id: int,
        *,
        vehicle_id: str | None = None,
        stop_id: int | None = None,
        source: str = "",
    ) -> None:
        self.select(Selection(vehicle_id, stop_id, alert_id, source))

    def clear(self, *, source: str = "") -> None:
        self.select(replace(Selection(), source=source))
