"""A tiny stored day for the runner's database tests: one depot, two vans, three stops.

T_LOCAL is 09:00 in Berlin on 20 Nov 2026 (08:00 UTC). Van 1 (08:00-17:00) is near the depot
with two stops: a near one due 09:00-09:30 (reachable) and one 12 km away due by 09:20
(late whatever it does). Van 2 (08:00-17:00) has one afternoon stop and never reports.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from fleet_zone import DAY, TZ, TZ_NAME, local

from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.records import (
    CustomerRecord,
    DepotRecord,
    DriverRecord,
    OrderRecord,
    Scenario,
    VehicleRecord,
)

T_LOCAL = local(9, 0)
T_UTC = T_LOCAL.astimezone(UTC)
DEPOT = (52.4650, 13.3900)
NEAR = (52.4700, 13.3950)
FAR = (52.5700, 13.3950)


def _at(h: int, m: int = 0) -> datetime:
    return datetime.combine(DAY, time(h, m), TZ).astimezone(UTC)


def _order(
    ref: str, name: str, where: tuple[float, float], start: int, end: tuple[int, int]
) -> OrderRecord:
    return OrderRecord(
        order_ref=ref,
        service_date=DAY,
        customer=CustomerRecord(ref=f"C-{ref}", name=name),
        address=f"{name}'s street 1",
        lat=where[0],
        lon=where[1],
        window_start=_at(start),
        window_end=_at(*end),
        service_s=120,
    )


def small_day() -> Scenario:
    sc = Scenario("alerts day", DAY, TZ_NAME)
    sc.depots.append(DepotRecord("D1", "Hub", "Hub street", *DEPOT))
    sc.drivers.append(DriverRecord("DR1", "Dana", ""))
    for vid in ("V1", "V2"):
        sc.vehicles.append(
            VehicleRecord(vid, f"Van {vid[1]}", "", "D1", "DR1", 100, time(8), time(17))
        )
    sc.orders = [
        _order("O-NEAR", "Nina Near", NEAR, 9, (9, 30)),
        _order("O-FAR", "Frank Far", FAR, 9, (9, 20)),
        _order("O-LATER", "Lara Later", NEAR, 12, (14, 0)),
    ]
    sc.routes = {"V1": ["O-NEAR", "O-FAR"], "V2": ["O-LATER"]}
    return sc


def store_day(db: Database) -> dict[str, int]:
    """Save the day; returns order ref -> stop id."""
    with db.session() as session:
        fleet_repo.save_scenario(session, small_day())
        return {s.order_ref: s.id for r in fleet_repo.load_routes(session, DAY) for s in r.stops}
