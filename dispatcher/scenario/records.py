"""Records describing a fleet and its orders, independent of the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time


@dataclass(frozen=True, slots=True)
class DepotRecord:
    id: str
    name: str
    address: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class DriverRecord:
    id: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class VehicleRecord:
    id: str
    name: str
    plate: str
    depot_id: str
    driver_id: str | None
    capacity: int
    shift_start: time
    shift_end: time
    skills: tuple[str, ...] = ()
    #: The fleet setup's type (``[routing.profiles]`` times a ``cargo_bike`` as a bicycle).
    vehicle_type: str = "van"


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    ref: str
    name: str
    phone: str = ""
    email: str = ""
    preferred_channel: str = "sms"
    language: str = "en"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order as imported or generated: becomes one stop."""

    order_ref: str
    service_date: date
    customer: CustomerRecord
    address: str
    lat: float
    lon: float
    window_start: datetime | None = None
    window_end: datetime | None = None
    service_s: int = 300
    demand: int = 1
    kind: str = "delivery"
    vehicle_id: str | None = None
    notes: str = ""
    #: Constraints (docs/planning.md, "Constraints"): skills the vehicle needs, kg, litres
    #: and the key joining a pickup to its delivery.
    skills: tuple[str, ...] = ()
    weight_kg: int = 0
    volume_l: int = 0
    pair: str | None = None


@dataclass
class Scenario:
    """A whole day: depots, drivers, vehicles, orders and the initial stop sequence per vehicle."""

    name: str
    service_date: date
    timezone: str
    depots: list[DepotRecord] = field(default_factory=list)
    drivers: list[DriverRecord] = field(default_factory=list)
    vehicles: list[VehicleRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    #: vehicle id -> order refs in visit order
    routes: dict[str, list[str]] = field(default_factory=dict)
