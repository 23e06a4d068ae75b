"""Plan one service day headlessly: ``dispatcher plan --date YYYY-MM-DD``.

The same path as the route board's "Optimize fleet…" followed by "Apply": the day's stored
routes and unassigned orders become a :class:`~dispatcher.planning.dayplan.DayPlan`, the fleet
optimizer (PyVRP with the OR-Tools fallback) proposes routes within the time limit, and the
proposal is applied as a :class:`~dispatcher.planning.commands.ReplaceRoutes` and saved with
the board's optimistic locking. Another day (today, running) is never read nor written, so
tomorrow can be planned while today's vans are on the road.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dispatcher import display
from dispatcher.errors import ValidationError
from dispatcher.eta.travel import HaversineProvider, TravelTimeProvider
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.planning.dayplan import build_day_plan
from dispatcher.planning.model import Plan, PlanMatrix
from dispatcher.users.desk import UserDesk


@dataclass(frozen=True, slots=True)
class DayPlanOutcome:
    """What planning the day did: the figures of ``plan --json``."""

    day: date
    vehicles: int
    stops: int
    unassigned: int
    distance_km: float
    late: int
    saved_routes: int
    cost: float = 0.0
    """Money of the day's routes at the vehicles' rates (0 when the fleet has none)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "vehicles": self.vehicles,
            "stops": self.stops,
            "unassigned": self.unassigned,
            "distance_km": round(self.distance_km, 3),
            "late": self.late,
            "cost": round(self.cost, 2),
        }

    def summary(self) -> str:
        """The human line of ``dispatcher plan``: the fleet's units and date (the JSON keeps
        ``distance_km`` and ISO dates whatever the fleet's settings)."""
        shown = display.current()
        cost = f", cost {shown.number(self.cost, 2)}" if self.cost else ""
        return (
            f"{shown.date(self.day)}: {self.stops} stops on {self.vehicles} vehicles, "
            f"{self.unassigned} unassigned, {shown.distance(self.distance_km * 1000.0)}, "
            f"{self.late} late{cost}"
        )


def plan_day(
    db: Database,
    day: date,
    timezone: str,
    *,
    time_limit_s: float = 10.0,
    actor: str = "",
    provider: TravelTimeProvider | None = None,
) -> DayPlanOutcome:
    """Assign ``day``'s unassigned orders to its vehicles with the optimizer and save.

    Raises :class:`ValidationError` when the day has no vehicles, and
    :class:`~dispatcher.errors.ConflictError` when a workstation changed a route of the day
    while the optimizer ran (nothing is saved then).
    """
    from dispatcher.planning.commands import ReplaceRoutes
    from dispatcher.planning.optimize import OptimizeOptions, optimize

    if time_limit_s <= 0:
        raise ValidationError("the time limit must be positive")
    with db.session() as session:
        routes = fleet_repo.load_routes(session, day)
        vehicles = fleet_repo.load_vehicles(session)
    if not vehicles:
        raise ValidationError(f"no active vehicle to plan {day} with")
    dayplan = build_day_plan(routes, vehicles, timezone, day=day)
    plan = dayplan.plan
    pm = PlanMatrix.build(plan, provider or HaversineProvider())
    saved = 0
    if plan.unassigned:
        result = optimize(plan, pm, OptimizeOptions(time_limit_s=time_limit_s))
        before = {v: list(r) for v, r in plan.routes.items()}
        ReplaceRoutes(result.routes, result.unassigned, result.base_versions).do(plan)
        changed = sorted(v for v, r in plan.routes.items() if r != before[v])
        writes = [
            fleet_repo.RouteWrite(
                vid, dayplan.db_versions[vid], tuple(_write(plan, sid) for sid in plan.routes[vid])
            )
            for vid in changed
        ]
        with db.session() as session:
            fleet_repo.save_routes(
                session,
                day,
                writes,
                [_write(plan, sid) for sid in plan.unassigned],
                actor=actor or UserDesk(db).login().id,
            )
        saved = len(writes)
    from dispatcher.planning.evaluate import evaluate_plan

    after = evaluate_plan(pm, plan)
    return DayPlanOutcome(
        day=day,
        vehicles=sum(1 for r in plan.routes.values() if r),
        stops=sum(len(r) for r in plan.routes.values()),
        unassigned=len(plan.unassigned),
        distance_km=after.distance / 1000.0,
        late=after.late_stops,
        saved_routes=saved,
        cost=after.cost,
    )


def _write(plan: Plan, sid: str) -> fleet_repo.StopWrite:
    stop = plan.stops[sid]
    return fleet_repo.StopWrite(int(sid), stop.pinned, stop.keep_vehicle, stop.order_group)
