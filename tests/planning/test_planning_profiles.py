"""A mixed fleet: each vehicle timed, planned and optimized on its own road profile.

A hand-made day where the answer depends on it: stop ``A`` sits in a pedestrian zone a van
reaches only after a long detour (an hour), a cargo bike in 1,000 s; stop ``B`` is due
within 500 s, which only the van (100 s) makes. With every vehicle on the van's times (the
old single matrix) ``A`` is late whoever takes it; with its own times the bike takes ``A``
and the van ``B``, both on time. Both engines (PyVRP for the fleet, OR-Tools) and the
single-route search must find that, and the evaluator must time each with its own matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from dispatcher.eta import HaversineProvider, Location, SpeedProfile, TravelMatrix
from dispatcher.eta.fleet_roads import FleetRoads, pick
from dispatcher.planning.evaluate import evaluate_plan, evaluate_route
from dispatcher.planning.model import LAZY_ABOVE, Plan, PlanMatrix, PlanStop, PlanVehicle
from dispatcher.planning.optimize import OptimizeOptions, build_model, optimize
from dispatcher.planning.pyvrp_engine import PyvrpSearch, solve_pyvrp
from dispatcher.planning.routing import SearchParams, solve_routing
from dispatcher.routing.settings import RoutingSettings

DEPOT, ZONE, STREET = (0.0, 0.0), (0.0, 1.0), (1.0, 0.0)
BIKE_S_PER_UNIT, CAR_S_PER_UNIT, DETOUR_S = 1000.0, 100.0, 3600.0


class Roads:
    """Plane distances; a bike 1,000 s a unit everywhere, a van 100 s a unit but an hour's
    detour to or from the pedestrian zone. Counts its matrices."""

    def __init__(self, profile: str) -> None:
        self.profile, self.calls = profile, 0

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        self.calls += 1
        arr = np.asarray(locations, dtype=np.float64)
        dist = np.sqrt(((arr[:, None, :] - arr[None, :, :]) ** 2).sum(axis=2))
        if self.profile == "bicycle":
            dur = dist * BIKE_S_PER_UNIT
        else:
            zone = np.all(np.isclose(arr, ZONE), axis=1)
            dur = dist * CAR_S_PER_UNIT + DETOUR_S * (zone[:, None] | zone[None, :])
            np.fill_diagonal(dur, 0.0)
        return TravelMatrix(dist, dur, SpeedProfile.flat(), self.profile)


def fleet_roads() -> tuple[FleetRoads, dict[str, Roads]]:
    roads = {p: Roads(p) for p in ("car", "bicycle")}
    return FleetRoads(RoutingSettings().profile_for, roads.__getitem__), roads


def day(routes: dict[str, list[str]] | None = None, unassigned: Sequence[str] = ()) -> Plan:
    vehicles = [
        PlanVehicle("van", 10, 0.0, 8 * 3600.0, DEPOT, DEPOT, vehicle_type="van"),
        PlanVehicle("bike", 10, 0.0, 8 * 3600.0, DEPOT, DEPOT, vehicle_type="cargo_bike"),
    ]
    stops = [
        PlanStop("A", ZONE, 0.0, 1500.0, demand=1),
        PlanStop("B", STREET, 0.0, 500.0, demand=1),
    ]
    return Plan.build(vehicles, stops, routes or {}, unassigned)


def test_each_vehicle_is_timed_on_its_own_profile() -> None:
    roads, _ = fleet_roads()
    plan = day({"van": ["B"], "bike": ["A"]})
    pm = PlanMatrix.build(plan, roads)
    assert pm.mixed and set(pm.matrices) == {"car", "bicycle"}
    ev = evaluate_plan(pm, plan)
    assert ev.routes["bike"].arrival[0] == pytest.approx(BIKE_S_PER_UNIT)
    assert ev.routes["van"].arrival[0] == pytest.approx(CAR_S_PER_UNIT)
    assert ev.feasible
    # the same route timed on the other profile is what the single matrix used to say
    as_van = evaluate_route(pm, plan.vehicles["van"], ["A"], plan)
    assert as_van.arrival[0] == pytest.approx(CAR_S_PER_UNIT + DETOUR_S)
    assert pm.for_vehicle("bike").matrix is pm.matrices["bicycle"]
    assert pm.for_vehicle("van").matrix is pm.matrices["car"]


def test_a_fleet_of_one_type_builds_one_matrix() -> None:
    roads, counted = fleet_roads()
    plan = day(unassigned=["A", "B"])
    vans = Plan.build(
        [plan.vehicles["van"], PlanVehicle("van2", 10, 0.0, 3600.0, DEPOT, vehicle_type="van")],
        plan.stops.values(),
        {},
        ["A", "B"],
    )
    pm = PlanMatrix.build(vans, roads)
    assert not pm.mixed and pm.matrices == {} and pm.matrix.source == "car"
    assert counted["car"].calls == 1 and counted["bicycle"].calls == 0
    bikes = Plan.build(
        [PlanVehicle("b", 10, 0.0, 3600.0, DEPOT, vehicle_type="cargo_bike")],
        plan.stops.values(),
        {},
        ["A", "B"],
    )
    assert PlanMatrix.build(bikes, roads).matrix.source == "bicycle"  # a bike fleet: bike times


def test_a_large_fleet_of_one_type_keeps_one_lazy_matrix() -> None:
    """At fleet size the matrix stays computed when read, and one: memory does not double."""
    fleet = FleetRoads(RoutingSettings().profile_for, lambda _p: HaversineProvider())
    vans = [PlanVehicle(f"V{i}", 10, 0.0, 3600.0, (52.5, 13.4), vehicle_type="van") for i in (1, 2)]
    stops = [PlanStop(str(i), (52.5 + i * 1e-5, 13.4)) for i in range(LAZY_ABOVE)]
    pm = PlanMatrix.build(Plan.build(vans, stops, {}, [s.id for s in stops]), fleet)
    assert pm.matrices == {} and not isinstance(pm.matrix.distance, np.ndarray)


def test_the_solver_model_carries_one_matrix_per_profile() -> None:
    roads, _ = fleet_roads()
    plan = day(unassigned=["A", "B"])
    pm = PlanMatrix.build(plan, roads)
    build = build_model(plan, pm, OptimizeOptions())
    p = build.problem
    assert p.mixed and len(p.profile_arcs) == 2
    a = next(n for n, s in build.node_stop.items() if s == "A")
    van, bike = build.vehicle_ids.index("van"), build.vehicle_ids.index("bike")
    scale = OptimizeOptions().scale
    assert p.arcs_of(bike)[1][p.starts[bike], a] == pytest.approx(BIKE_S_PER_UNIT * scale)
    assert p.arcs_of(van)[1][p.starts[van], a] == pytest.approx((CAR_S_PER_UNIT + DETOUR_S) * scale)
    one = build_model(day({"bike": ["A"]}, ["B"]), pm, OptimizeOptions(vehicle_ids=("bike",)))
    assert not one.problem.mixed  # one vehicle in scope: its own matrix is the model's
    assert one.problem.travel[0, 2] == pytest.approx(BIKE_S_PER_UNIT * scale)


@pytest.mark.parametrize("engine", ["auto", "ortools"])
def test_the_fleet_optimizer_gives_each_stop_to_the_vehicle_that_makes_it(engine: str) -> None:
    """PyVRP (``auto``) and OR-Tools: the swap is found only with per-vehicle times."""
    roads, _ = fleet_roads()
    plan = day({"van": ["A"], "bike": ["B"]})  # each on the wrong vehicle: both late
    pm = PlanMatrix.build(plan, roads)
    assert not evaluate_plan(pm, plan).feasible
    result = optimize(plan, pm, OptimizeOptions(time_limit_s=2.0, engine=engine))
    assert result.routes == {"van": ["B"], "bike": ["A"]}
    assert result.after.feasible
    assert result.after.routes["bike"].arrival[0] == pytest.approx(BIKE_S_PER_UNIT)


def test_the_old_single_matrix_could_not_plan_that_day() -> None:
    """The control: every vehicle on the van's times, A is late whoever drives it."""
    plan = day({"van": ["A"], "bike": ["B"]})
    pm = PlanMatrix.build(plan, Roads("car"))
    result = optimize(plan, pm, OptimizeOptions(time_limit_s=1.0))
    assert result.mode != "hard" or not result.after.feasible


def test_pick_gives_a_plain_provider_as_it_is() -> None:
    roads, counted = fleet_roads()
    assert pick(roads, "cargo_bike") is counted["bicycle"]
    assert pick(roads, None) is counted["car"] and pick(roads, "unknown") is counted["car"]
    plain = HaversineProvider()
    assert pick(plain, "cargo_bike") is plain


def test_both_engines_honour_the_vehicles_profiles_directly() -> None:
    """PyVRP's ``VehicleType(profile=...)`` and OR-Tools' per-vehicle transits, each given
    the model with hard windows: only the bike-takes-A answer is feasible."""
    roads, _ = fleet_roads()
    plan = day(unassigned=["A", "B"])
    build = build_model(plan, PlanMatrix.build(plan, roads), OptimizeOptions())
    stop = build.node_stop
    for out in (
        solve_pyvrp(build.problem, PyvrpSearch(1.0, stall_s=0.3)),
        solve_routing(build.problem, SearchParams(time_limit_s=1.0)),
    ):
        assert out.routes is not None
        got = {v: [stop[n] for n in r] for v, r in zip(build.vehicle_ids, out.routes, strict=True)}
        assert got == {"van": ["B"], "bike": ["A"]}
