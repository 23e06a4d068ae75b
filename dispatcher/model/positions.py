"""An order's place on the map as the pick mode reads it, and a fix of it (docs/map.md).

:mod:`dispatcher.persistence.stop_position_repo` fills and stores these;
:mod:`dispatcher.importing.positions` hands them to the console's pick mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

Position = tuple[float, float]


@dataclass(frozen=True, slots=True)
class StopPlace:
    """A stop as the pick mode shows it, and the version a fix of it is made from."""

    id: int
    order_ref: str
    customer_name: str
    address: str
    lat: float
    lon: float
    status: str
    version: int
    service_date: date

    def title(self) -> str:
        """ "Ann Smith, 1 Piccadilly" — who and where, as the dispatcher knows the order."""
        parts = [p for p in (self.customer_name, self.address) if p]
        return ", ".join(parts) if parts else self.order_ref


@dataclass(frozen=True, slots=True)
class RouteBump:
    """The route a fixed stop is on, with the version the fix gave it."""

    vehicle_id: str
    route_id: int
    version: int


@dataclass(frozen=True, slots=True)
class PositionFix:
    """What :func:`fix_stop_position` stored (and what its undo needs)."""

    stop_id: int
    order_ref: str
    service_date: date
    address: str
    before: Position
    after: Position
    #: The stop's version after the fix: an undo is made from it.
    version: int
    route: RouteBump | None
    #: The address's pin before the fix (None: it had none); an undo puts it back.
    pin_before: Position | None
    #: Whether the fix became the address's pin (not for a stop without an address).
    remembered: bool
