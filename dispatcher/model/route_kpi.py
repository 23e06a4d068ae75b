"""Plain records of planned-vs-actual, cost and emissions (docs/kpi.md).

The persistence layer fills them (:mod:`dispatcher.persistence.route_kpi_repo`), the KPI
room computes from them (:mod:`dispatcher.kpi.route_day`), tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from dispatcher.model.fleet_setup import TYPE_MAX, _Fields, number
from dispatcher.model.kpi import StopRecord

#: Units of the energy figure by kind of energy.
UNITS = {"diesel": "l", "petrol": "l", "electric": "kWh"}
ENERGY_KINDS = tuple(UNITS)

LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """One stop as the plan had it when the route was dispatched.

    Not :class:`~dispatcher.model.stops.StopView` (the stop as stored now) nor the KPI's
    ``StopRecord`` (the stop as measured): this is the promise, frozen, which the other two
    are compared with; it never changes after dispatch."""

    order_ref: str
    sequence: int
    lat: float
    lon: float
    planned_arrival: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    service_s: int = 300
    demand: int = 1
    kind: str = "delivery"


@dataclass(frozen=True, slots=True)
class PlanSnapshot:
    """The frozen copy of a route's plan. ``trigger`` says what froze it (the first event's
    kind, ``live`` when the route had not been dispatched and the current plan stands in)."""

    route_id: int
    vehicle_id: str
    service_date: date
    frozen_at: datetime | None
    trigger: str
    stops: tuple[PlannedStop, ...]
    depot: LatLon | None = None
    end_depot: LatLon | None = None

    @property
    def frozen(self) -> bool:
        return self.trigger != "live"


@dataclass(frozen=True, slots=True)
class Fix:
    """One stored position of a vehicle's track (time and place only)."""

    ts: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class StopEvent:
    """A delivery event as the service-time figure needs it (which stop, what, when): the
    three columns of a ``vehicle_events`` row it reads, not the whole event."""

    order_ref: str
    kind: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class VehicleCosts:
    """Money per route day, per km and per hour (fleet setup)."""

    fixed: float = 0.0
    per_km: float = 0.0
    per_hour: float = 0.0

    def of(self, km: float, hours: float) -> float:
        return self.fixed + self.per_km * km + self.per_hour * hours


@dataclass(frozen=True, slots=True)
class EnergyProfile:
    """What one vehicle type burns or charges per km, what that emits, and its fixed cost.

    Attributes:
        vehicle_type: The type's name as the vehicles carry it (``van``, ``ev``, …).
        energy: ``diesel``, ``petrol`` or ``electric``.
        energy_per_km: Litres (fuel) or kWh (electric) per km driven.
        co2e_per_unit: kg CO₂e per litre or per kWh (for electric: the grid factor).
        source: Where the factor comes from (name and version), printed in reports.
        fixed_cost_per_route: Money per route day for using a vehicle of this type at all
            (lease, insurance, depreciation per working day).
    """

    vehicle_type: str
    energy: str = "diesel"
    energy_per_km: float = 0.0
    co2e_per_unit: float = 0.0
    source: str = ""
    fixed_cost_per_route: float = 0.0

    @property
    def unit(self) -> str:
        return UNITS.get(self.energy, "")


#: The name and version of the factor set the defaults come from (shown in reports).
FACTOR_SOURCE = "DESNZ GHG conversion factors 2025 (UK): diesel well-to-wheel, grid generation"

DIESEL_WTW_KG_PER_L = 2.57082 + 0.62665
UK_GRID_KG_PER_KWH = 0.17700


#: Defaults for the types the fleet setup offers; energy use per km is an assumption.
DEFAULT_PROFILES: dict[str, EnergyProfile] = {
    "van": EnergyProfile("van", "diesel", 0.09, DIESEL_WTW_KG_PER_L, FACTOR_SOURCE),
    "truck": EnergyProfile("truck", "diesel", 0.25, DIESEL_WTW_KG_PER_L, FACTOR_SOURCE),
    "ev": EnergyProfile("ev", "electric", 0.25, UK_GRID_KG_PER_KWH, FACTOR_SOURCE),
    "bike": EnergyProfile("bike", "electric", 0.02, UK_GRID_KG_PER_KWH, FACTOR_SOURCE),
    # The routing's name for the same (``[routing.profiles]``, docs/routing.md).
    "cargo_bike": EnergyProfile("cargo_bike", "electric", 0.02, UK_GRID_KG_PER_KWH, FACTOR_SOURCE),
}


@dataclass(frozen=True, slots=True)
class RouteInputs:
    """Everything a route day's figures are computed from, as read from the database."""

    plan: PlanSnapshot
    stops: tuple[StopRecord, ...]
    track: tuple[Fix, ...]
    events: tuple[StopEvent, ...]
    vehicle_type: str
    cost_per_km: float
    cost_per_hour: float
    driver_id: str
    depot_id: str
    area: str
    #: The vehicle's own fixed cost per day (fleet setup, also what the optimizer weighs);
    #: 0 means "use its type's ``fixed_cost_per_route``".
    fixed_cost: float = 0.0


@dataclass(frozen=True, slots=True)
class RouteDayFacts:
    """One stored route day (a ``kpi_route_days`` row, or a period's sum of them)."""

    service_date: date
    vehicle_id: str
    route_id: int | None = None
    driver_id: str = ""
    depot_id: str = ""
    area: str = ""
    plan_frozen: bool = False
    planned_km: float = 0.0
    planned_drive_h: float = 0.0
    planned_service_h: float = 0.0
    planned_route_h: float = 0.0
    planned_stops: int = 0
    planned_cost: float = 0.0
    planned_co2e_kg: float = 0.0
    actual_km: float = 0.0
    drive_h: float = 0.0
    service_h: float = 0.0
    route_h: float = 0.0
    stops_visited: int = 0
    cost: float = 0.0
    energy: float = 0.0
    energy_unit: str = ""
    co2e_kg: float = 0.0
    on_time_hits: int = 0
    on_time_total: int = 0
    first_attempt_hits: int = 0
    first_attempt_total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    added: int = 0
    removed: int = 0
    parcels: int = 0


#: What a period view groups by, and the ``kpi_route_days`` column it reads.
DIMENSIONS = {
    "fleet": "",
    "vehicle": "vehicle_id",
    "driver": "driver_id",
    "depot": "depot_id",
    "area": "area",
}
#: How a period's days are bucketed on a trend.
BUCKETS = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """The sums of the stored route days of one bucket (a day, week or month, named by its
    first day) and one group (a vehicle, driver, depot, area; ``""`` for the fleet).

    Sums only: percentages and ratios are computed from them (:mod:`dispatcher.kpi.period`),
    so a month's on-time % is its on-time stops over its judged stops, not a mean of days.
    """

    bucket: date
    key: str
    routes: int
    planned_km: float
    actual_km: float
    planned_drive_h: float
    drive_h: float
    planned_service_h: float
    service_h: float
    planned_route_h: float
    route_h: float
    planned_stops: int
    stops_visited: int
    planned_cost: float
    cost: float
    fuel_l: float
    electricity_kwh: float
    planned_co2e_kg: float
    co2e_kg: float
    on_time_hits: int
    on_time_total: int
    first_attempt_hits: int
    first_attempt_total: int
    done: int
    failed: int
    skipped: int
    parcels: int
    frozen_routes: int
    #: Customers' ratings (1-5) of the group's stops (docs/kpi.md, "Customer feedback").
    rating_sum: int = 0
    ratings: int = 0


def parse_vehicle_type(raw: Mapping[str, object]) -> EnergyProfile:
    """A vehicle type from form or CSV text, every bad field named (``FieldErrors``)."""
    f = _Fields(raw)
    name = f.text("name", TYPE_MAX, required=True).lower()
    energy = f.text("energy", 16).lower() or "diesel"
    if energy not in UNITS and "energy" not in f.errors:
        f.errors["energy"] = f"one of {', '.join(UNITS)}"
    per_km = f.check("energy_per_km", number(0, 100), 0.0)
    factor = f.check("co2e_kg_per_unit", number(0, 100), 0.0)
    source = f.text("factor_source", 200)
    fixed = f.check("fixed_cost_per_route", number(0, 1_000_000), 0.0)
    f.done()
    return EnergyProfile(name, energy, per_km, factor, source, fixed)
