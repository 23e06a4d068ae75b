"""A stop as the views see it, and a route of them: the one read model of a stored stop.

The route boards, the route list, the map, the exception queue's detail pane and the day
report all show a stored stop; they read this one type, filled by
:func:`dispatcher.persistence.fleet_repo.stop_view` from the row, so a new column is added
once. The day report and the detail pane once had types of their own (a second ``StopRecord``
and ``StopInfo``, issue 16 item 6).

Types that stay apart on purpose, because they are something else than "the stored stop
now": :class:`dispatcher.model.kpi.StopRecord` (the stop *as measured*: first arrival from
the events, attempts counted), :class:`dispatcher.model.positions.StopPlace` (the pick
mode's version to fix a position from), :class:`dispatcher.model.messaging.StopContact` /
``RouteStop`` (the customer and the whole route for an ETA walk),
:class:`dispatcher.alerts.facts.StopFacts` (validated input of the rules), the planner's
``PlanStop`` and the write-side ``StopWrite``/``StopProgress`` (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class StopView:
    """A stored stop as the views show it (detached from the session).

    ``vehicle_id``/``vehicle_name`` are filled by the readers that join the route (the day
    report); inside a :class:`RouteView` the route names the vehicle and they stay empty.
    """

    id: int
    order_ref: str
    service_date: date
    sequence: int | None
    kind: str
    status: str
    customer_name: str
    address: str
    lat: float
    lon: float
    window_start: datetime | None
    window_end: datetime | None
    service_s: int
    demand: int
    pinned: bool
    planned_arrival: datetime | None
    keep_on_vehicle: bool = False
    lock_group: str | None = None
    actual_arrival: datetime | None = None
    #: When the stop last reached done/failed.
    completed_at: datetime | None = None
    attempts: int = 0
    failure_reason: str = ""
    vehicle_id: str | None = None
    vehicle_name: str = ""
    #: Constraints the planner honours (docs/planning.md, "Constraints").
    required_skills: tuple[str, ...] = ()
    weight_kg: int = 0
    volume_l: int = 0
    pair_key: str | None = None


@dataclass(frozen=True, slots=True)
class RouteView:
    """One vehicle's route of the day with its stops in order (id 0: the unassigned stops)."""

    id: int
    vehicle_id: str
    vehicle_name: str
    driver_name: str
    capacity: int
    version: int
    stops: tuple[StopView, ...]
    #: The vehicle's type (``van``, ``cargo_bike``): which road profile its lines follow.
    vehicle_type: str = ""
