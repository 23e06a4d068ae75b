"""Builders shared by the planning tests: small plans in a plane (Euclidean) or a city."""

from __future__ import annotations

import random
from dataclasses import replace

from dispatcher.eta import EuclideanProvider
from dispatcher.model.core import StopKind, StopStatus
from dispatcher.planning.model import Plan, PlanMatrix, PlanStop, PlanVehicle


def random_plan(
    seed: int,
    n_stops: int = 12,
    n_vehicles: int = 2,
    *,
    done: int = 0,
    pickups: bool = True,
    tight: bool = False,
) -> Plan:
    """A plan in a 100x100 plane with windows in [0, 1000], stops spread round-robin."""
    rng = random.Random(seed)
    stops = []
    for i in range(n_stops):
        start = rng.uniform(0, 600)
        width = rng.uniform(60, 200) if tight else rng.uniform(200, 800)
        kind = StopKind.PICKUP if pickups and rng.random() < 0.3 else StopKind.DELIVERY
        stops.append(
            PlanStop(
                f"s{i}",
                (rng.uniform(0, 100), rng.uniform(0, 100)),
                start,
                start + width,
                rng.choice([0.0, 5.0, 10.0]),
                rng.randint(0, 5),
                kind,
            )
        )
    vehicles = [
        PlanVehicle(f"v{k}", 40, 0.0, 1500.0, (50.0, 50.0), (50.0, 50.0)) for k in range(n_vehicles)
    ]
    routes: dict[str, list[str]] = {v.id: [] for v in vehicles}
    for i, s in enumerate(stops):
        routes[vehicles[i % n_vehicles].id].append(s.id)
    plan = Plan.build(vehicles, stops, routes)
    for v in vehicles:
        for sid in plan.routes[v.id][:done]:
            plan.stops[sid] = replace(plan.stops[sid], status=StopStatus.DONE)
    return plan


def plane_matrix(plan: Plan) -> PlanMatrix:
    """Euclidean matrix (time = distance), as in Solomon instances."""
    return PlanMatrix.build(plan, EuclideanProvider())
