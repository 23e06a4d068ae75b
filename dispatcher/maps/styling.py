"""How a vehicle looks on the map: one display state out of its live status and open alerts.

The colour answers the dispatcher's first question — "is this one in trouble?" — so trouble
wins over routine: ``late`` > ``at risk`` > ``offline`` > ``stale`` > ``coarse position`` >
``idle`` > ``on time``.
A late vehicle that also went offline stays red (the customer is hurt either way); the open
``vehicle_offline`` alert still rings the marker. The page keeps the palette in one place
(:data:`PALETTE`), and the legend is built from it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from dispatcher.model.alerts import AlertKind
from dispatcher.model.core import StopStatus, VehicleState


class DisplayState(enum.StrEnum):
    """The map's vocabulary for a vehicle (the value is what the page receives)."""

    LATE = "late"
    AT_RISK = "at_risk"
    OFFLINE = "offline"
    STALE = "stale"
    IDLE = "idle"
    COARSE = "coarse"
    ON_TIME = "on_time"
    UNKNOWN = "unknown"


#: Fill colour and legend text of each display state.
PALETTE: dict[DisplayState, tuple[str, str]] = {
    DisplayState.LATE: ("#e53935", "Late"),
    DisplayState.AT_RISK: ("#fb8c00", "At risk"),
    DisplayState.OFFLINE: ("#546e7a", "Offline"),
    DisplayState.STALE: ("#b0bec5", "No news"),
    DisplayState.IDLE: ("#8e24aa", "Idle"),
    DisplayState.COARSE: ("#78909c", "Coarse position"),
    DisplayState.ON_TIME: ("#43a047", "On time"),
    DisplayState.UNKNOWN: ("#9e9e9e", "No position"),
}

#: A stop predicted late hurts a customer: red. A predicted shift overrun, a failed delivery or
#: a detour is trouble coming, not yet a broken promise: amber.
_LATE_KINDS = frozenset({AlertKind.LATE})
_RISK_KINDS = frozenset(
    {
        AlertKind.AT_RISK,
        AlertKind.FAILED_DELIVERY,
        AlertKind.ROUTE_DEVIATION,
        AlertKind.SHIFT_OVERRUN,
        AlertKind.CAPACITY_EXCEEDED,
    }
)


def display_state(
    state: VehicleState, alert_kinds: Iterable[AlertKind] = (), *, coarse: bool = False
) -> DisplayState:
    """The one display state of a vehicle with live ``state`` and these open alert kinds.

    ``coarse``: its newest fix is a coarse one (drawn with its accuracy circle); that says
    less than any trouble, more than a routine state.
    """
    kinds = set(alert_kinds)
    if kinds & _LATE_KINDS:
        return DisplayState.LATE
    if kinds & _RISK_KINDS:
        return DisplayState.AT_RISK
    if state is VehicleState.OFFLINE or AlertKind.VEHICLE_OFFLINE in kinds:
        return DisplayState.OFFLINE
    if state is VehicleState.STALE or AlertKind.VEHICLE_STALE in kinds:
        return DisplayState.STALE
    if coarse:
        return DisplayState.COARSE
    if state is VehicleState.IDLE or AlertKind.VEHICLE_IDLE in kinds:
        return DisplayState.IDLE
    if state is VehicleState.UNKNOWN:
        return DisplayState.UNKNOWN
    return DisplayState.ON_TIME


class StopStyle(enum.StrEnum):
    """How a numbered stop is drawn on the selected route."""

    DONE = "done"
    FAILED = "failed"
    LATE = "late"
    NEXT = "next"
    PENDING = "pending"


def stop_style(status: str, *, late: bool) -> StopStyle:
    """Final stops keep their outcome; an open stop expected after its window is late."""
    try:
        parsed = StopStatus(status)
    except ValueError:
        parsed = StopStatus.PENDING
    if parsed is StopStatus.DONE:
        return StopStyle.DONE
    if parsed in (StopStatus.FAILED, StopStatus.SKIPPED):
        return StopStyle.FAILED
    if late:
        return StopStyle.LATE
    if parsed in (StopStatus.NEXT, StopStatus.ARRIVED):
        return StopStyle.NEXT
    return StopStyle.PENDING
