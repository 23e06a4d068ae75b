"""Planned vs actual, cost and CO₂e of hand-made route days, each figure by hand.

Geometry used throughout: points on the meridian 13°E, so a step of 0.01° latitude is
R·π/180·0.01 = 6,371,008.8 m × 0.000174533 = 1,111.9508 m (dispatcher.geo's radius). The
plan is measured with the offline provider: straight line × 1.3 at 30 km/h, so a planned
metre takes 3.6 / 30 = 0.12 s.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from fleet_zone import DAY, utc

from dispatcher.kpi.definitions import Ratio, Verdict
from dispatcher.kpi.emissions import DEFAULT_PROFILES, energy_and_co2e, profile_for
from dispatcher.kpi.route_day import compute_route_day, service_seconds, track_figures
from dispatcher.model.kpi import StopRecord
from dispatcher.model.route_kpi import (
    EnergyProfile,
    Fix,
    PlannedStop,
    PlanSnapshot,
    StopEvent,
    VehicleCosts,
)

STEP_M = 6_371_008.8 * math.pi / 180 * 0.01  # 1,111.9508 m per 0.01° of latitude
LON = 13.0
DEPOT = (52.00, LON)
COSTS = VehicleCosts(fixed=50.0, per_km=0.5, per_hour=20.0)
VAN = DEFAULT_PROFILES["van"]
NOW = utc(20)


def fix(h: int, m: int, lat: float) -> Fix:
    return Fix(utc(h, m), lat, LON)


def planned(ref: str, seq: int, lat: float, h: int, m: int, **kw: object) -> PlannedStop:
    return PlannedStop(ref, seq, lat, LON, planned_arrival=utc(h, m), service_s=300, **kw)  # type: ignore[arg-type]  # **kw: mixed


def test_a_detour_costs_more_than_the_plan_and_a_window_widened_later_stays_late() -> None:
    plan = PlanSnapshot(
        1,
        "V1",
        DAY,
        utc(8, 55),
        "arrived",
        (
            planned("A", 1, 52.01, 9, 0, demand=2, window_start=utc(8, 45), window_end=utc(9, 15)),
            planned("B", 2, 52.02, 9, 20, window_start=utc(9, 0), window_end=utc(9, 10)),
        ),
        depot=DEPOT,
    )
    # After dispatch the desk widened B's window to 09:30: B is still judged on 09:10.
    stops = [
        StopRecord(1, "A", status="done", vehicle_id="V1", window_end=utc(9, 15),
                   arrival=utc(9, 0), completed_at=utc(9, 4), attempts=1, demand=2),
        StopRecord(2, "B", status="done", vehicle_id="V1", window_end=utc(9, 30),
                   arrival=utc(9, 20), completed_at=utc(9, 24), attempts=1, demand=1),
    ]  # fmt: skip
    # Depot → A, parked, detour north to 52.03, back to B, parked, home.
    track = [
        fix(8, 55, 52.00),
        fix(9, 0, 52.01),  # 1 step in 5 min: 13.3 km/h, driving
        fix(9, 5, 52.01),  # parked: 0 m
        fix(9, 15, 52.03),  # 2 steps in 10 min: driving
        fix(9, 20, 52.02),  # 1 step in 5 min: driving
        fix(9, 25, 52.02),  # parked
        fix(9, 35, 52.00),  # 2 steps in 10 min: driving
    ]
    events = [
        StopEvent("A", "arrived", utc(9, 0)),
        StopEvent("A", "delivered", utc(9, 4)),
        StopEvent("B", "arrived", utc(9, 20)),
        StopEvent("B", "delivered", utc(9, 24)),
    ]
    day = compute_route_day(plan, stops, track, events, COSTS, VAN, NOW)

    # Planned: depot→A 1 step, A→B 1, B→depot 2 = 4 steps straight, × 1.3 on the road.
    planned_m = 4 * STEP_M * 1.3  # 5,782.14 m
    assert day.planned.distance_km == pytest.approx(planned_m / 1000)
    assert day.planned.drive_h == pytest.approx(planned_m * 0.12 / 3600)  # 693.86 s
    assert day.planned.service_h == pytest.approx(600 / 3600)
    # Route time: leave (09:00 − first leg 1 step×1.3×0.12 s = 173.46 s) to return
    # (09:20 + 300 s service + last leg 2 steps: 346.93 s) = 173.46 + 1200 + 300 + 346.93 s.
    planned_route_s = STEP_M * 1.3 * 0.12 + 1200 + 300 + 2 * STEP_M * 1.3 * 0.12
    assert day.planned.route_h == pytest.approx(planned_route_s / 3600)  # 0.5612 h
    # Planned cost = 50 + 0.5 × 5.78214 + 20 × 0.56122 = 64.115
    assert day.planned.cost == pytest.approx(
        50 + 0.5 * planned_m / 1000 + 20 * planned_route_s / 3600
    )
    assert day.planned.cost == pytest.approx(64.115, abs=1e-3)
    assert day.planned.stops == 2

    # Actual: 1 + 0 + 2 + 1 + 0 + 2 = 6 steps = 6,671.70 m; driving 5+10+5+10 min = 0.5 h.
    assert day.actual.distance_km == pytest.approx(6 * STEP_M / 1000)
    assert day.actual.drive_h == pytest.approx(0.5)
    # Service: A 09:00→09:04 and B 09:20→09:24 = 8 min.
    assert day.actual.service_h == pytest.approx(8 / 60)
    # Route time: first moving 08:55 to last moving 09:35 (later than the last completion).
    assert day.actual.route_h == pytest.approx(40 / 60)
    # Cost = 50 + 0.5 × 6.671705 + 20 × 40/60 = 50 + 3.33585 + 13.33333 = 66.66918
    assert day.actual.cost == pytest.approx(66.66918, abs=1e-4)
    assert day.actual.stops == 2 and day.parcels_delivered == 3
    assert day.cost_per_stop == pytest.approx(66.66918 / 2, abs=1e-4)
    assert day.cost_per_parcel == pytest.approx(66.66918 / 3, abs=1e-4)
    # Diesel: 6.671705 km × 0.09 l/km = 0.600453 l; × 3.19747 kg/l = 1.919931 kg CO₂e.
    assert day.energy_unit == "l"
    assert day.actual.energy == pytest.approx(0.600453, abs=1e-6)
    assert day.actual.co2e_kg == pytest.approx(1.919931, abs=1e-6)
    assert day.co2e_per_parcel_kg == pytest.approx(1.919931 / 3, abs=1e-6)
    # On time: A 09:00 ≤ 09:15; B 09:20 > 09:10 (the window as promised at dispatch).
    assert [o.verdict for o in day.outcomes] == [Verdict.ON_TIME, Verdict.LATE]
    assert day.on_time == Ratio(1, 2)
    assert [o.delta_min for o in day.outcomes] == [0.0, 0.0]
    assert day.outcomes[1].window_end == utc(9, 10) and day.outcomes[1].in_plan
    assert day.first_attempt == Ratio(2, 2)
    assert (day.added, day.removed, day.plan_frozen) == (0, 0, True)


def test_a_skipped_stop_and_a_second_attempt() -> None:
    plan = PlanSnapshot(
        2,
        "V2",
        DAY,
        utc(9, 50),
        "arrived",
        (
            planned("A", 1, 52.01, 10, 0),
            planned("B", 2, 52.02, 10, 30),
            planned("C", 3, 52.03, 11, 0),
        ),
        depot=DEPOT,
    )
    a_done, b_done = utc(10, 5), utc(11, 33)
    stops = [
        StopRecord(1, "A", status="done", arrival=utc(10, 0), completed_at=a_done, attempts=1),
        StopRecord(2, "B", status="done", arrival=utc(10, 35), completed_at=b_done, attempts=2),
        StopRecord(3, "C", status="skipped"),
    ]
    events = [
        StopEvent("A", "arrived", utc(10, 0)),
        StopEvent("A", "delivered", utc(10, 5)),  # 5 min
        StopEvent("B", "arrived", utc(10, 35)),
        StopEvent("B", "failed", utc(10, 40)),  # 5 min, first visit
        StopEvent("B", "arrived", utc(11, 30)),
        StopEvent("B", "delivered", utc(11, 33)),  # 3 min, second visit
    ]
    track = [fix(9, 50, 52.00), fix(10, 0, 52.01), fix(10, 35, 52.02), fix(11, 30, 52.02)]
    day = compute_route_day(plan, stops, track, events, COSTS, VAN, NOW)
    # Service = 5 + 5 + 3 min = 13 min (each visit counted from its own arrival).
    assert day.actual.service_h == pytest.approx(13 / 60)
    # Visited: A and B (C never reached); planned 3.
    assert (day.planned.stops, day.actual.stops, day.skipped, day.done) == (3, 2, 1, 2)
    # First attempt: tried = A, B; A ok, B needed two → 1 of 2. C (skipped untried) is out.
    assert day.first_attempt == Ratio(1, 2)
    # Parcels delivered: A 1 + B 1 = 2; C skipped delivers nothing.
    assert day.parcels_delivered == 2
    # Route time: moving from 09:50; last moving segment ends 10:35 (1 step in 35 min is
    # 1.9 km/h: not driving); last completion 11:33 → 09:50 to 11:33 = 103 min.
    assert day.actual.drive_h == pytest.approx(10 / 60)
    assert day.actual.route_h == pytest.approx(103 / 60)
    # Cost = 50 + 0.5 × 2 steps (2.223902 km) + 20 × 103/60 = 50 + 1.111951 + 34.333333
    assert day.actual.cost == pytest.approx(85.445284, abs=1e-5)
    assert day.cost_per_stop == pytest.approx(85.445284 / 2, abs=1e-5)
    assert day.cost_per_parcel == pytest.approx(85.445284 / 2, abs=1e-5)
    # Not judged (no windows): on time has nothing to count.
    assert day.on_time == Ratio(0, 0) and day.on_time.percent is None


def test_a_cargo_bike_is_counted_as_the_electric_bike_it_is() -> None:
    """The routing's name for a bike (``cargo_bike``) has the built-in bike's factors."""
    bike, cargo = profile_for("bike", {}), profile_for("cargo_bike", {})
    assert bike is not None and cargo is not None
    assert (cargo.energy, cargo.energy_per_km) == (bike.energy, bike.energy_per_km)


def test_an_electric_van_uses_the_grid_factor() -> None:
    ev = profile_for("EV", {})
    assert ev is not None and ev.energy == "electric" and ev.unit == "kWh"
    plan = PlanSnapshot(3, "E1", DAY, utc(8), "arrived", (planned("A", 1, 52.10, 8, 30),))
    stops = [StopRecord(1, "A", status="done", arrival=utc(8, 30), completed_at=utc(8, 32),
                        attempts=1, demand=4)]  # fmt: skip
    track = [fix(8, 0, 52.00), fix(8, 30, 52.10)]  # 10 steps in 30 min: 22.2 km/h
    day = compute_route_day(plan, stops, track, [], VehicleCosts(), ev, NOW)
    km = 10 * STEP_M / 1000  # 11.119508 km
    # 11.119508 km × 0.25 kWh/km = 2.779877 kWh; × 0.177 kg/kWh = 0.492038 kg CO₂e.
    assert day.actual.distance_km == pytest.approx(km)
    assert day.energy_unit == "kWh"
    assert day.actual.energy == pytest.approx(2.779877, abs=1e-6)
    assert day.actual.co2e_kg == pytest.approx(0.492038, abs=1e-6)
    assert day.co2e_per_parcel_kg == pytest.approx(0.492038 / 4, abs=1e-6)
    # No costs set: cost 0, per parcel 0.
    assert day.actual.cost == 0.0 and day.cost_per_parcel == 0.0
    # No depot in the plan: the planned path is the single stop, 0 km.
    assert day.planned.distance_km == 0.0


def test_stops_added_and_removed_after_dispatch_and_a_live_plan() -> None:
    plan = PlanSnapshot(4, "V4", DAY, None, "live", (planned("A", 1, 52.01, 9, 0),
                                                     planned("B", 2, 52.02, 9, 30)))  # fmt: skip
    stops = [StopRecord(1, "A"), StopRecord(3, "X")]
    day = compute_route_day(plan, stops, [], [], COSTS, None, NOW)
    assert (day.added, day.removed, day.plan_frozen) == (1, 1, False)
    assert [o.in_plan for o in day.outcomes] == [True, False]
    # Nothing moved: no distance, no route time, only the fixed cost; no profile → no CO₂e.
    assert day.actual.distance_km == 0.0 and day.actual.route_h == 0.0
    assert day.actual.cost == 50.0 and day.actual.co2e_kg == 0.0 and day.energy_unit == ""


def test_unknown_vehicle_type_has_no_factor_and_stored_profiles_win() -> None:
    assert profile_for("hovercraft", {}) is None
    mine = EnergyProfile("van", "diesel", 0.1, 3.0, "own fuel cards 2026")
    assert profile_for("Van", {"van": mine}) is mine
    assert energy_and_co2e(10.0, mine) == pytest.approx((1.0, 3.0))
    assert energy_and_co2e(-5.0, mine) == (0.0, 0.0)


def test_track_and_service_edge_cases() -> None:
    assert track_figures([]) == (0.0, 0.0, None, None)
    same = [Fix(utc(9), 52.0, LON), Fix(utc(9), 52.01, LON)]  # two fixes at one instant
    metres, driving, start, _ = track_figures(same)
    assert metres == pytest.approx(STEP_M) and driving == 0.0 and start is None
    # An arrival never closed counts nothing; an end without arrival counts nothing.
    assert (
        service_seconds([StopEvent("A", "arrived", utc(9)), StopEvent("B", "delivered", utc(9, 5))])
        == 0.0
    )
    departed = [
        StopEvent("A", "arrived", utc(9)),
        StopEvent("A", "departed", utc(9) + timedelta(seconds=90)),
    ]
    assert service_seconds(departed) == 90.0
