"""Planning domain types: stops, vehicles, the plan, and the matrix index over them.

Time convention: every time is a float number of seconds since the plan's origin, the local
midnight of the planning day (so ``t % 86400`` is the time of day the speed profile needs).
:func:`to_plan_seconds` / :func:`from_plan_seconds` map datetimes from the database. Plan
seconds are the fleet's WALL clock (09:00 is 32 400 on every day, also on a 23- or 25-hour DST
day), like shift times and the speed profile's periods: a UTC instant is first read on the
fleet's clock. Mixing the two (instants from the database minus a local midnight, against
shifts counted on the clock) put every window an hour off the shifts on a DST day. The price:
a route driven across the night's change is an hour off, which a delivery day does not do.

These types are deliberately independent of the ORM: the persistence layer maps its rows onto
them, and the planner, evaluator and commands never see a session.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from dispatcher.errors import ValidationError
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.eta.travel import (
    LazyMatrixProvider,
    Location,
    TravelMatrix,
    TravelTimeProvider,
    build_matrix,
)
from dispatcher.model.core import StopKind, StopStatus

INF = math.inf


def to_plan_seconds(when: datetime, origin: datetime) -> float:
    """Wall-clock seconds from ``origin`` (local midnight of the plan day) to ``when``, read
    on ``origin``'s clock (``when`` may be in any zone, e.g. UTC from the database)."""
    local = when.astimezone(origin.tzinfo).replace(tzinfo=None)
    return (local - origin.replace(tzinfo=None)).total_seconds()


def from_plan_seconds(t_s: float, origin: datetime) -> datetime:
    """Inverse of :func:`to_plan_seconds`: the wall-clock time in ``origin``'s zone."""
    wall = origin.replace(tzinfo=None) + timedelta(seconds=t_s)
    return wall.replace(tzinfo=origin.tzinfo)


@dataclass(frozen=True, slots=True)
class PlanStop:
    """A stop as the planner sees it.

    Attributes:
        id: Stable identifier (the stop's database id as a string).
        location: ``(lat, lon)`` or ``(x, y)`` depending on the travel provider.
        window_start: Earliest service start (plan seconds); arriving earlier means waiting.
        window_end: Latest service start; later is "late" (soft in evaluation).
        service_s: Time spent at the stop.
        demand: Units delivered (``DELIVERY``) or picked up (``PICKUP``), >= 0.
        kind: Delivery (loaded at the depot) or pickup (carried back to the depot).
        status: Done/failed/skipped stops and the in-progress (``ARRIVED``) stop are fixed.
        pinned: Keep this exact position (index) in its route.
        order_group: Stops sharing a group stay on one vehicle in their current relative order.
        keep_vehicle: Stay on the current vehicle (position free).
        skills: What the vehicle must be able to do (``{"cold"}``): a subset of its skills.
        weight: Kilograms, a second capacity dimension (0: not counted).
        volume: Litres, a third capacity dimension (0: not counted).
        pair: Shipment key of a paired pickup and delivery: the two stops sharing it go on
            one vehicle, the pickup first, and the goods ride only between them (the delivery
            is not loaded at the depot). See :mod:`dispatcher.planning.constraints`.
    """

    id: str
    location: Location
    window_start: float = 0.0
    window_end: float = INF
    service_s: float = 0.0
    demand: int = 0
    kind: StopKind = StopKind.DELIVERY
    status: StopStatus = StopStatus.PENDING
    pinned: bool = False
    order_group: str | None = None
    keep_vehicle: bool = False
    skills: frozenset[str] = frozenset()
    weight: int = 0
    volume: int = 0
    pair: str | None = None

    def __post_init__(self) -> None:
        if self.window_end < self.window_start:
            raise ValidationError(f"stop {self.id}: time window ends before it starts")
        if self.service_s < 0 or self.demand < 0:
            raise ValidationError(f"stop {self.id}: negative service time or demand")
        if self.weight < 0 or self.volume < 0:
            raise ValidationError(f"stop {self.id}: negative weight or volume")

    @property
    def loaded_at_depot(self) -> bool:
        """A delivery whose goods leave the depot with the vehicle (not a paired one)."""
        return self.kind is StopKind.DELIVERY and self.pair is None

    @property
    def sizes(self) -> tuple[int, int, int]:
        """The stop's amount in each capacity dimension (count, weight, volume)."""
        return (self.demand, self.weight, self.volume)

    @property
    def is_fixed(self) -> bool:
        """Done or in progress: part of the route's fixed prefix, never moved by anyone."""
        return self.status.is_final or self.status is StopStatus.ARRIVED

    @property
    def load_delta(self) -> int:
        """Change of the on-board load when the stop is served."""
        return self.demand if self.kind is StopKind.PICKUP else -self.demand


@dataclass(frozen=True, slots=True)
class PlanVehicle:
    """A vehicle, its shift and where it is now.

    Attributes:
        id: Vehicle id.
        capacity: Maximum on-board load.
        shift_start: Earliest departure (plan seconds).
        shift_end: End of the driver's shift; later is overtime.
        start: Live position, or the depot before departure.
        end: Depot to return to; ``None`` for an open route ending at the last stop.
        start_time: "Now" for a vehicle on the road; ``None`` means it leaves at shift start.
        current_load: Load on board now for a vehicle on the road; ``None`` means it is at the
            depot and will load every delivery of its route.
        cost_per_km: Money per km driven (fleet setup); 0 with ``cost_per_hour`` 0 everywhere
            keeps the distance-only objective (:mod:`dispatcher.planning.costs`).
        cost_per_hour: Money per hour from leaving to coming back, waiting included.
        fixed_cost: Money for using the vehicle at all.
        skills: What the vehicle (and its driver) can do; a stop's skills must be a subset.
        max_weight: Kilograms it may carry (``None``: not limited).
        max_volume: Litres it may carry (``None``: not limited).
        max_duration_s: Longest route from leaving to coming back (``None``: the shift only).
        break_window: Earliest and latest start of the driver's break (plan seconds).
        break_s: How long the break lasts (0: no break).
        vehicle_type: Its type (``van``, ``cargo_bike``): which road profile times it
            (``[routing.profiles]``, :class:`~dispatcher.eta.fleet_roads.FleetRoads`).
    """

    id: str
    capacity: int
    shift_start: float
    shift_end: float
    start: Location
    end: Location | None = None
    start_time: float | None = None
    current_load: int | None = None
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    fixed_cost: float = 0.0
    skills: frozenset[str] = frozenset()
    max_weight: int | None = None
    max_volume: int | None = None
    max_duration_s: float | None = None
    break_window: tuple[float, float] | None = None
    break_s: float = 0.0
    vehicle_type: str = ""

    def __post_init__(self) -> None:
        if self.break_window is not None and self.break_window[1] < self.break_window[0]:
            raise ValidationError(f"vehicle {self.id}: the break window ends before it starts")
        if self.break_s < 0 or (self.max_duration_s is not None and self.max_duration_s <= 0):
            raise ValidationError(f"vehicle {self.id}: a break or a route duration below 0")
        if self.shift_end < self.shift_start:
            raise ValidationError(f"vehicle {self.id}: shift ends before it starts")
        if self.capacity < 0 or min(self.limits) < 0:
            raise ValidationError(f"vehicle {self.id}: negative capacity")
        for cost in (self.cost_per_km, self.cost_per_hour, self.fixed_cost):
            if not (math.isfinite(cost) and cost >= 0):
                raise ValidationError(f"vehicle {self.id}: a cost must be a number ≥ 0")

    @property
    def limits(self) -> tuple[float, float, float]:
        """Capacity per dimension (count, weight, volume); ``inf`` where not limited."""
        return (
            float(self.capacity),
            INF if self.max_weight is None else float(self.max_weight),
            INF if self.max_volume is None else float(self.max_volume),
        )

    @property
    def has_break(self) -> bool:
        return self.break_window is not None and self.break_s > 0

    @property
    def departure(self) -> float:
        """When the remaining route starts: now if on the road, else shift start."""
        if self.start_time is None:
            return self.shift_start
        return max(self.start_time, self.shift_start)

    @property
    def on_road(self) -> bool:
        """Has left the depot: its deliveries are on board and cannot change vehicle."""
        return self.current_load is not None


def refusal(plan: Plan, vehicle_id: str, stop_id: str) -> str | None:
    """Why ``vehicle_id`` cannot take ``stop_id`` now, in a sentence (None: it can).

    The one rule, used by the best-place search and by every move a dispatcher makes: a
    vehicle that has left the depot cannot take a new delivery — its goods were loaded at the
    depot and are not on board. (A pickup it can take; a delivery already on its route, e.g.
    reordered, it keeps.)
    """
    vehicle = plan.vehicles[vehicle_id]
    stop = plan.stops[stop_id]
    if (
        vehicle.on_road
        and stop.kind is StopKind.DELIVERY
        and stop_id not in plan.routes.get(vehicle_id, ())
    ):
        return (
            f"{vehicle_id} has left the depot: the goods of stop {stop_id} (a delivery) are not on "
            "board, so it cannot take it (give it to a vehicle still at the depot, or plan it for "
            "the next run)"
        )
    return None


@dataclass(slots=True)
class Plan:
    """Vehicles, stops and the ordered stop ids of each vehicle's route.

    ``versions`` counts edits per route for optimistic locking: every command bumps the
    version of each route it touches; the persistence layer compares and stores it.
    """

    vehicles: dict[str, PlanVehicle]
    stops: dict[str, PlanStop]
    routes: dict[str, list[str]]
    unassigned: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        vehicles: Iterable[PlanVehicle],
        stops: Iterable[PlanStop],
        routes: Mapping[str, Sequence[str]],
        unassigned: Sequence[str] = (),
    ) -> Plan:
        """Create and validate a plan (every stop on exactly one route or unassigned)."""
        plan = cls(
            {v.id: v for v in vehicles},
            {s.id: s for s in stops},
            {k: list(v) for k, v in routes.items()},
            list(unassigned),
        )
        for vid in plan.vehicles:
            plan.routes.setdefault(vid, [])
            plan.versions.setdefault(vid, 0)
        plan.validate()
        return plan

    def validate(self) -> None:
        """Raise :class:`ValidationError` if the plan is not a partition of its stops."""
        seen: set[str] = set()
        for vid, route in self.routes.items():
            if vid not in self.vehicles:
                raise ValidationError(f"route for unknown vehicle {vid}")
            for sid in route:
                self._check_new(sid, seen)
            fixed = [self.stops[s].is_fixed for s in route]
            if fixed != sorted(fixed, reverse=True):
                raise ValidationError(f"vehicle {vid}: done stops must come first in the route")
        for sid in self.unassigned:
            self._check_new(sid, seen)
            if self.stops[sid].is_fixed:
                raise ValidationError(f"stop {sid} is done or in progress but on no route")
        if seen != set(self.stops):
            missing = sorted(set(self.stops) - seen)[:5]
            raise ValidationError(f"stops on no route and not unassigned: {missing}")

    def _check_new(self, sid: str, seen: set[str]) -> None:
        if sid not in self.stops:
            raise ValidationError(f"unknown stop {sid}")
        if sid in seen:
            raise ValidationError(f"stop {sid} appears twice in the plan")
        seen.add(sid)

    def vehicle_of(self, stop_id: str) -> str | None:
        """The vehicle whose route holds the stop, ``None`` if unassigned."""
        for vid, route in self.routes.items():
            if stop_id in route:
                return vid
        return None

    def copy(self) -> Plan:
        """An independent copy (routes and versions; stops/vehicles are immutable)."""
        return Plan(
            dict(self.vehicles),
            dict(self.stops),
            {k: list(v) for k, v in self.routes.items()},
            list(self.unassigned),
            dict(self.versions),
        )


#: Places above which a straight-line plan matrix computes its entries when read, not all at
#: once (:class:`~dispatcher.eta.travel.PairwiseHaversine`): 2,000 places are 32 MB a matrix.
LAZY_ABOVE = 2000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PlanMatrix:
    """The travel matrix of a plan and per-node arrays, built once, shared by all drags.

    Node numbering: vehicle starts, then vehicle ends (for vehicles with a depot), then stops.
    Rebuild when a live position or the set of stops changes, not when a route is edited.

    A mixed fleet (vans and cargo bikes) has one matrix per road profile its vehicles use,
    over the same nodes (:attr:`matrices`, :attr:`vehicle_profile`); :attr:`matrix` is the
    first vehicle's. Whatever times a vehicle's route asks :meth:`matrix_of` (the
    evaluator, and through it insertion, drag checks and previews; the solvers' arcs in
    :func:`~dispatcher.planning.optimize.build_model`), or :meth:`for_vehicle` for a view
    sharing every array. A fleet of one profile has one matrix and empty maps: nothing
    changes for it (at 500 vehicles and 10,000 stops the lazy matrix stays one matrix).
    """

    matrix: TravelMatrix
    stop_node: dict[str, int]
    start_node: dict[str, int]
    end_node: dict[str, int]
    window_start: FloatArray
    window_end: FloatArray
    service: FloatArray
    load_delta: FloatArray
    delivery: FloatArray
    extra_delta: FloatArray | None = None
    """Per node, load change in weight and volume (shape ``(n, 2)``); ``None``: no stop has
    any, so only the count is checked."""
    extra_delivery: FloatArray | None = None
    """Per node, weight and volume loaded at the depot for it."""
    matrices: Mapping[str, TravelMatrix] = field(default_factory=dict)
    """Matrix per road profile when the vehicles use more than one (else empty)."""
    vehicle_profile: Mapping[str, str] = field(default_factory=dict)
    """Road profile (key of :attr:`matrices`) per vehicle id (empty with one profile)."""

    @classmethod
    def build(cls, plan: Plan, provider: TravelTimeProvider) -> PlanMatrix:
        """Ask ``provider`` for the matrix over every start, end and stop of ``plan``.

        A :class:`~dispatcher.eta.fleet_roads.FleetRoads` gives one matrix per road profile
        the plan's vehicles use, each from that profile's provider.
        """
        locs: list[Location] = []
        start_node: dict[str, int] = {}
        end_node: dict[str, int] = {}
        for v in plan.vehicles.values():
            start_node[v.id] = len(locs)
            locs.append(v.start)
        for v in plan.vehicles.values():
            if v.end is not None:
                end_node[v.id] = len(locs)
                locs.append(v.end)
        stop_node: dict[str, int] = {}
        for s in plan.stops.values():
            stop_node[s.id] = len(locs)
            locs.append(s.location)
        if not isinstance(provider, FleetRoads):
            matrix = _matrix_of(provider, locs)
            return cls.from_matrix(matrix, plan, stop_node, start_node, end_node)
        kinds = [v.vehicle_type for v in plan.vehicles.values()] or [""]
        profile_of = {v.id: provider.profile_of(v.vehicle_type) for v in plan.vehicles.values()}
        profiles = list(dict.fromkeys(provider.profile_of(k) for k in kinds))
        matrices = {p: _matrix_of(provider.provider(p), locs) for p in profiles}
        pm = cls.from_matrix(matrices[profiles[0]], plan, stop_node, start_node, end_node)
        if len(profiles) == 1:
            return pm
        return replace(pm, matrices=matrices, vehicle_profile=profile_of)

    @classmethod
    def from_matrix(
        cls,
        matrix: TravelMatrix,
        plan: Plan,
        stop_node: dict[str, int],
        start_node: dict[str, int],
        end_node: dict[str, int],
    ) -> PlanMatrix:
        """Wrap an existing matrix (e.g. Solomon's) with the per-node stop arrays."""
        n = matrix.size
        ws, we = np.zeros(n), np.full(n, INF)
        svc, delta, deliv = np.zeros(n), np.zeros(n), np.zeros(n)
        extra = any(s.weight or s.volume for s in plan.stops.values())
        x_delta, x_deliv = (np.zeros((n, 2)), np.zeros((n, 2))) if extra else (None, None)
        for sid, node in stop_node.items():
            s = plan.stops[sid]
            ws[node], we[node], svc[node] = s.window_start, s.window_end, s.service_s
            delta[node] = s.load_delta
            deliv[node] = s.demand if s.loaded_at_depot else 0
            if x_delta is not None and x_deliv is not None:
                sign = 1 if s.kind is StopKind.PICKUP else -1
                x_delta[node] = (sign * s.weight, sign * s.volume)
                if s.loaded_at_depot:
                    x_deliv[node] = (s.weight, s.volume)
        return cls(
            matrix, stop_node, start_node, end_node, ws, we, svc, delta, deliv, x_delta, x_deliv
        )

    @property
    def mixed(self) -> bool:
        """More than one road profile: vehicles are timed on different matrices."""
        return len(self.matrices) > 1

    def profile_key(self, vehicle_id: str) -> str:
        """The road profile ``vehicle_id`` is timed with ("" with one profile)."""
        return self.vehicle_profile.get(vehicle_id, "") if self.matrices else ""

    def matrix_of(self, vehicle_id: str) -> TravelMatrix:
        """The matrix that times ``vehicle_id``'s routes."""
        if not self.matrices:
            return self.matrix
        return self.matrices.get(self.vehicle_profile.get(vehicle_id, ""), self.matrix)

    def for_vehicle(self, vehicle_id: str) -> PlanMatrix:
        """This plan matrix with ``vehicle_id``'s matrix as :attr:`matrix` (itself with one
        profile; a view otherwise: the node arrays are shared, nothing is copied)."""
        if not self.matrices:
            return self
        matrix = self.matrix_of(vehicle_id)
        return self if matrix is self.matrix else replace(self, matrix=matrix)


def _matrix_of(provider: TravelTimeProvider, locs: list[Location]) -> TravelMatrix:
    if len(locs) > LAZY_ABOVE and isinstance(provider, LazyMatrixProvider):
        return provider.lazy_matrix(locs)  # a fleet's day: only the legs read
    return build_matrix(provider, locs)
