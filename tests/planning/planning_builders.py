"""Builders shared by the planning tests: small plans in a plane (Euclidean) or a city."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import strategies as st

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


@st.composite
def locked_plans(
    draw: st.DrawFn,
    locks: tuple[str, ...] = ("none", "none", "pin", "group", "keep"),
    vehicles: tuple[int, int] = (1, 3),
    max_stops: int = 12,
    random_starts: bool = False,
) -> Plan:
    """Small feasible-by-construction fleets with a random mix of the given ``locks`` per
    stop, an in-progress first stop and vehicles already on the road (live start and load)."""
    seed = draw(st.integers(0, 100_000))
    plan = random_plan(
        seed,
        draw(st.integers(2, max_stops)),
        draw(st.integers(*vehicles)),
        done=draw(st.integers(0, 2)),
    )
    for vid, route in plan.routes.items():
        pending = [s for s in route if not plan.stops[s].is_fixed]
        on_board = sum(
            plan.stops[s].demand for s in pending if plan.stops[s].kind is StopKind.DELIVERY
        )
        first_arrived: bool = bool(pending) and draw(st.booleans())
        if first_arrived:
            plan.stops[pending[0]] = replace(plan.stops[pending[0]], status=StopStatus.ARRIVED)
            pending = pending[1:]
        for sid in pending:
            lock = draw(st.sampled_from(locks))
            if lock == "pin":
                plan.stops[sid] = replace(plan.stops[sid], pinned=True)
            elif lock == "group":
                plan.stops[sid] = replace(plan.stops[sid], order_group=f"g-{vid}")
            elif lock == "keep":
                plan.stops[sid] = replace(plan.stops[sid], keep_vehicle=True)
        if draw(st.booleans()):
            v = plan.vehicles[vid]
            start = (
                (draw(st.floats(0, 100)), draw(st.floats(0, 100)))
                if random_starts
                else (20.0, 80.0)
            )
            plan.vehicles[vid] = replace(v, start=start, start_time=50.0, current_load=on_board)
    plan.validate()
    return plan
