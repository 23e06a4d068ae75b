"""What a vehicle's position is worth, in words for the health line and the map's tooltip.

A coarse fix on the map is a question ("why is this van a big circle?"); the answer names
the device's tracking mode when it told us (OwnTracks ``m``) and what to switch on the phone.
"""

from __future__ import annotations

from dispatcher import display
from dispatcher.fleet.state import VehicleSnapshot

COARSE_STATE = "coarse position"

_MODE_HINTS = {
    "significant": (
        "the phone is in OwnTracks significant-changes mode (m=1), which sends cell fixes "
        "of {cell} at most every 5 minutes; switch it to Move mode (the mode button on the "
        "app's map) for GPS fixes"
    ),
    "move": (
        "the phone is in OwnTracks Move mode (m=2) but has no GPS fix: indoors, or the app "
        "lacks precise-location permission"
    ),
    "manual": (
        "the phone is in OwnTracks manual mode (m=0) and reports only on regions or when "
        "asked; switch it to Move mode (the mode button on the app's map)"
    ),
    "quiet": (
        "the phone is in OwnTracks quiet mode (m=-1) and reports only when asked; switch "
        "it to Move mode (the mode button on the app's map)"
    ),
}


def accuracy_text(metres: float | None) -> str:
    """``±1.4 km`` / ``±650 m`` (``±0.9 mi`` / ``±710 yd`` in miles); empty when unknown."""
    if metres is None:
        return ""
    return f"±{display.current().short_distance(metres)}"


def position_note(snap: VehicleSnapshot) -> str:
    """The health line's word on the position: empty for a good fix, else what and why."""
    return coarse_note(snap.accuracy_m, snap.tracking_mode) if snap.coarse else ""


def coarse_note(accuracy_m: float | None, tracking_mode: str | None) -> str:
    """Why a fix is coarse and what to switch on the device (``dispatcher decode`` too)."""
    shown = display.current()
    cell = f"{shown.distance(1000, 0)} to {shown.distance(5000, 0)}"
    hint = _MODE_HINTS.get(tracking_mode or "", "the device reports no GPS fix").format(cell=cell)
    acc = accuracy_text(accuracy_m)
    head = f"{COARSE_STATE} ({acc})" if acc else COARSE_STATE
    return f"{head}: {hint}; not used for ETA or route deviation"
