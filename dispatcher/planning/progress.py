"""The drivers' progress merged off the GUI thread: what the route desk hands a worker.

:meth:`~dispatcher.planning.desk.RouteDesk.progress_job` copies the plan on the GUI thread;
the worker reads the stops' progress, merges it into the copy and evaluates again only the
routes it touched (:func:`progress_evaluation`); the GUI thread then takes the changed stops
and routes into the plan, unless the plan changed meanwhile (:class:`PlanBase`), when it
merges what was read into the plan as it is now. At 500 vehicles / 10,000 stops the merge
on the GUI thread held it every few seconds (bench/console.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatcher.persistence.fleet_repo import StopProgress
from dispatcher.planning.dayplan import DayPlan, ProgressMerge
from dispatcher.planning.evaluate import PlanEvaluation, evaluate_plan, evaluate_route
from dispatcher.planning.model import PlanMatrix
from dispatcher.planning.stop_eta import StopEta, stop_etas


@dataclass(frozen=True, slots=True)
class PlanBase:
    """What a plan looked like when a background job copied it: :meth:`still` says whether
    it is unchanged (the same evaluation object, routes and stop objects)."""

    evaluation: PlanEvaluation | None
    routes: dict[str, list[str]]
    unassigned: list[str]
    stops: dict[str, Any]

    @classmethod
    def of(cls, plan: Any, evaluation: PlanEvaluation | None) -> PlanBase:
        routes = {k: list(v) for k, v in plan.routes.items()}
        return cls(evaluation, routes, list(plan.unassigned), dict(plan.stops))

    def still(self, plan: Any, evaluation: PlanEvaluation | None) -> bool:
        return (
            evaluation is self.evaluation
            and plan.routes == self.routes
            and plan.unassigned == self.unassigned
            and plan.stops == self.stops  # the same objects unless one changed: fast
        )


@dataclass(frozen=True, slots=True)
class PreparedProgress:
    """The drivers' progress merged into a copy of the plan off the GUI thread
    (:meth:`RouteDesk.progress_job`), with the touched routes evaluated again."""

    generation: int
    base: PlanBase
    day: DayPlan
    merge: ProgressMerge
    evaluation: PlanEvaluation | None
    etas: dict[str, StopEta] | None
    #: What was read: merged again on the GUI thread if the plan changed meanwhile.
    progress: Mapping[int, StopProgress]


def progress_evaluation(
    pm: PlanMatrix,
    day: DayPlan,
    old: PlanEvaluation | None,
    old_etas: Mapping[str, StopEta],
    changed: Sequence[str],
) -> tuple[PlanEvaluation, dict[str, StopEta] | None]:
    """The evaluation after a progress merge, with only the routes holding ``changed``
    evaluated again (the others kept their stops, places and matrix: a driver's delivery
    re-evaluated all 500 routes of a fleet's day), and the ETA table with only those routes'
    ETAs replaced (None: compute every stop's). It changes none of its arguments: it runs in
    a worker on a copy of the plan, or on the GUI thread on the plan itself."""
    plan = day.plan
    if old is None or set(old.routes) != set(plan.routes):
        return evaluate_plan(pm, plan), None
    wanted = set(changed)
    touched = [v for v, route in plan.routes.items() if not wanted.isdisjoint(route)]
    routes = dict(old.routes)
    for vid in touched:
        routes[vid] = evaluate_route(pm, plan.vehicles[vid], plan.routes[vid], plan)
    evaluation = PlanEvaluation(routes, len(plan.unassigned))
    etas = dict(old_etas)
    for vid in touched:
        for sid in plan.routes[vid]:
            etas.pop(sid, None)
    etas.update(stop_etas(day, evaluation, touched))
    return evaluation, etas
