"""Seeded route-day figures for a history of past days (the KPI benchmark and screenshots).

Not a simulation: plausible numbers per vehicle and day (~30 stops, 50–120 km planned, a few
per cent of detours, failures and late arrivals; one vehicle in five electric), consistent
with each other (cost from km and hours, CO₂e from the energy), so the period view and its
SQL can be exercised at a year's size without simulating a year.
"""

from __future__ import annotations

import random
from datetime import date

from dispatcher.model.route_kpi import RouteDayFacts

AREAS = [f"52.{i},13.{j}" for i in range(3, 7) for j in range(1, 6)]


def synthetic_day(
    day: date, vehicles: int, rng: random.Random, ids: list[str] | None = None
) -> list[RouteDayFacts]:
    """Plausible route days: ~30 stops, ~80 km planned, a few % of detours and failures."""
    rows = []
    for v in range(vehicles):
        stops = rng.randint(20, 40)
        planned_km = rng.uniform(50, 120)
        actual_km = planned_km * rng.uniform(0.95, 1.25)
        route_h = rng.uniform(6, 9.5)
        electric = v % 5 == 0
        energy = actual_km * (0.25 if electric else 0.09)
        co2e = energy * (0.177 if electric else 3.19747)
        failed = rng.choice((0, 0, 0, 1, 1, 2))
        skipped = rng.choice((0, 0, 0, 0, 1))
        visited = stops - skipped
        late = rng.choice((0, 1, 1, 2, 3, 5))
        cost = 45 + 0.35 * actual_km + 22 * route_h
        rows.append(
            RouteDayFacts(
                service_date=day,
                vehicle_id=ids[v] if ids else f"V{v + 1:03d}",
                driver_id=f"D{(v + day.toordinal()) % (vehicles + 10) + 1:03d}",
                depot_id=f"DEP{v % 4 + 1}",
                area=AREAS[v % len(AREAS)],
                plan_frozen=True,
                planned_km=planned_km,
                planned_drive_h=planned_km / 30,
                planned_service_h=stops * 5 / 60,
                planned_route_h=route_h * rng.uniform(0.9, 1.0),
                planned_stops=stops,
                planned_cost=45 + 0.35 * planned_km + 22 * route_h * 0.95,
                planned_co2e_kg=co2e * planned_km / actual_km,
                actual_km=actual_km,
                drive_h=actual_km / 28,
                service_h=visited * 5.5 / 60,
                route_h=route_h,
                stops_visited=visited,
                cost=cost,
                energy=energy,
                energy_unit="kWh" if electric else "l",
                co2e_kg=co2e,
                on_time_hits=visited - late,
                on_time_total=visited,
                first_attempt_hits=visited - failed,
                first_attempt_total=visited,
                done=visited - failed,
                failed=failed,
                skipped=skipped,
                parcels=(visited - failed) * rng.randint(1, 3),
            )
        )
    return rows
