"""What every detection rule shares: the :class:`Rule` protocol and a few small helpers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from dispatcher.alerts.facts import Snapshot, VehicleFacts
from dispatcher.model.alerts import AlertKind, Condition


class Rule(Protocol):
    """One detection rule: one job, no I/O, no clock of its own (``now`` is passed in).

    ``kinds`` lists every kind the rule may yield; the engine uses it to know which open
    alerts a snapshot speaks for (an alert of a kind no rule produces is never auto-resolved).
    """

    @property
    def kinds(self) -> frozenset[AlertKind]: ...

    def evaluate(self, snapshot: Snapshot, now: datetime) -> Iterable[Condition]:
        """Yield the conditions true in ``snapshot`` at ``now``."""
        ...


def minutes(delta: timedelta) -> float:
    """A duration in minutes (what thresholds are expressed in)."""
    return delta.total_seconds() / 60.0


def round_min(delta: timedelta) -> int:
    """Whole minutes for titles and details, rounded half up (a person reads them)."""
    return int(minutes(delta) + 0.5) if delta >= timedelta(0) else -int(-minutes(delta) + 0.5)


def is_silent(vehicle: VehicleFacts, now: datetime, stale_after_min: float) -> bool:
    """True when nothing was heard from the vehicle for ``stale_after_min`` or more."""
    if vehicle.last_seen is None:
        return True
    return minutes(now - vehicle.last_seen) >= stale_after_min


def next_customer_deadline(snapshot: Snapshot, vehicle_id: str) -> datetime | None:
    """Earliest window end among the vehicle's unfinished stops: when a customer is hurt
    if the vehicle's problem is not handled. This is the SLA of vehicle-level alerts."""
    ends = [
        s.window_end
        for s in snapshot.stops_of(vehicle_id)
        if not s.is_final and s.window_end is not None
    ]
    return min(ends) if ends else None


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
