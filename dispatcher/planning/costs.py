"""What a vehicle's route costs, in the solvers' integer units.

The fleet setup gives each vehicle a ``cost_per_km`` and a ``cost_per_hour`` (money, in the
fleet's currency); a fixed cost per vehicle used is plumbed through (:attr:`PlanVehicle.
fixed_cost`) but has no column yet. A route then costs::

    fixed_cost + cost_per_km × km driven + cost_per_hour × hours from leaving to coming back

where the hours include waiting for windows to open: a vehicle at the depot may leave later
instead of waiting (the solvers choose its start within the shift), a vehicle on the road is
on the clock from "now".

Solver units. Both engines take integer matrices with ``scale`` units per metre and per
second (``OptimizeOptions.scale``, 10: decimetres and tenths of a second). Per vehicle
``v`` the money per solver unit is::

    d_v = cost_per_km / (1000 · scale)        money per distance unit
    t_v = cost_per_hour / (3600 · scale)      money per time unit

and the objective unit is chosen so that the dearest of all those rates in the fleet is
:data:`COST_TARGET` (1000) objective units: ``units_per_money = COST_TARGET / max(d, t)``,
and each vehicle's integer coefficients are ``round(d_v · units_per_money)`` per distance unit
and ``round(t_v · units_per_money)`` per unit of route duration. Three significant digits for
the dearest rate, whatever the currency (0.5 $/km and 25 $/h give 72 and 1000; 50 ¥/km and
3000 ¥/h give 60 and 1000). Magnitudes stay far from int64's 9·10¹⁸: 12 hours at the
dearest rate are 4.3·10⁸ units, 1000 km at it 10¹⁰. Distance always counts at least 1 unit,
so a vehicle whose only cost is time (or that costs nothing at all) still drives the shorter
of two equally long days.

Penalties (lateness in the soft-window fallback, a dropped stop, ``vehicle_fixed_cost``) are
given in distance-equivalent units; in a costed fleet they are multiplied by
:attr:`SolverCosts.penalty_factor` (= :data:`COST_TARGET`), i.e. priced at the dearest unit
rate of the fleet, so they weigh at least as much against the routes as in a distance-only
fleet.

When no vehicle has a cost (Solomon instances, a fleet set up without costs), or every
vehicle has the same ``cost_per_km`` and nothing else, the objective is today's: distance
only, coefficients 1, no duration term (:func:`solver_costs` returns ``None``), so plans and
benchmark figures are exactly as before. Fixed costs without any rate (plumbing only today)
keep distance as the unit and weigh the dearest vehicle like :data:`FIXED_ONLY_M` metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.planning.model import PlanVehicle

COST_TARGET = 1000
"""Objective units per solver unit (distance or time) of the dearest rate in the fleet."""
FIXED_ONLY_M = 1_000_000.0
"""With fixed costs and no rate at all, the dearest vehicle weighs as much as this many
metres driven (less than a dropped stop's penalty, more than any detour)."""


@dataclass(frozen=True, slots=True)
class SolverCosts:
    """Per-vehicle integer cost coefficients (vehicles in the solver's order).

    Attributes:
        distance: Objective units per distance unit (``cost`` matrix unit).
        duration: Objective units per time unit of route duration (leave to return).
        fixed: Objective units for using the vehicle at all.
        units_per_money: Objective units per unit of the fleet's currency.
        penalty_factor: What one distance-equivalent unit of a penalty is worth.
    """

    distance: list[int]
    duration: list[int]
    fixed: list[int]
    units_per_money: float
    penalty_factor: int = COST_TARGET

    def money(self, units: float) -> float:
        """Objective units back to the fleet's currency."""
        return units / self.units_per_money


def _rate(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def is_costed(vehicles: Sequence[PlanVehicle]) -> bool:
    """Whether the costs change anything against distance only (see the module doc)."""
    per_km = {_rate(v.cost_per_km) for v in vehicles}
    timed = any(_rate(v.cost_per_hour) > 0 or _rate(v.fixed_cost) > 0 for v in vehicles)
    return timed or len(per_km) > 1


def solver_costs(vehicles: Sequence[PlanVehicle], scale: float) -> SolverCosts | None:
    """Integer coefficients of ``vehicles``' costs, ``None`` for the distance-only objective."""
    if not vehicles or not is_costed(vehicles):
        return None
    d = [_rate(v.cost_per_km) / (1000.0 * scale) for v in vehicles]
    t = [_rate(v.cost_per_hour) / (3600.0 * scale) for v in vehicles]
    top = max(*d, *t)
    if top <= 0:  # fixed costs only: distance is the unit, the dearest vehicle = 1000 km
        dearest = max(_rate(v.fixed_cost) for v in vehicles)
        per_money = FIXED_ONLY_M * scale / dearest
        return SolverCosts(
            [1] * len(vehicles),
            [0] * len(vehicles),
            [round(_rate(v.fixed_cost) * per_money) for v in vehicles],
            per_money,
            penalty_factor=1,
        )
    per_money = COST_TARGET / top
    return SolverCosts(
        [max(1, round(x * per_money)) for x in d],
        [round(x * per_money) for x in t],
        [round(_rate(v.fixed_cost) * per_money) for v in vehicles],
        per_money,
    )


def route_money(vehicle: PlanVehicle, distance_m: float, duration_s: float, used: bool) -> float:
    """What a route costs in the fleet's currency (the preview's and the tests' figure)."""
    if not used:
        return 0.0
    return (
        _rate(vehicle.fixed_cost)
        + _rate(vehicle.cost_per_km) * distance_m / 1000.0
        + _rate(vehicle.cost_per_hour) * duration_s / 3600.0
    )
