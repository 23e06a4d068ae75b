"""Build the simulated fleet from the day's routes in the database."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dispatcher.fleet_settings import machine_zone_name
from dispatcher.persistence import fleet_repo, route_kpi_repo
from dispatcher.persistence.database import Database
from dispatcher.simulator.roads import SimRoads
from dispatcher.simulator.runner import SimVehicle, build_scripts
from dispatcher.simulator.script import SimStop, VehicleScript

#: Every third vehicle reports as an OwnTracks phone, like a small fleet without trackers.
OWNTRACKS_EVERY = 3


def owntracks_identity(
    driver_name: str, vehicle_id: str, taken: set[str] | None = None
) -> tuple[str, str]:
    """``(user, device)`` of a vehicle's phone: the driver's first name, as people set up
    OwnTracks, made unique with the vehicle id when another phone of the fleet has it.

    Without ``taken`` a 100-vehicle fleet had nine drivers called Anna: their phones shared
    ``owntracks/anna/phone``, one binding, and every other phone's fixes were attributed to
    (and rejected as jumps of) one vehicle.
    """
    first = driver_name.split(" ", maxsplit=1)[0] if driver_name else vehicle_id
    user = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode().lower()
    user = "".join(ch for ch in user if ch.isalnum()) or vehicle_id.lower()
    if taken is not None:
        if user in taken:
            user = f"{user}-{vehicle_id.lower()}"
        taken.add(user)
    return user, "phone"


def load_simulated_fleet(
    db: Database,
    seed: int,
    timezone: str | None = None,
    trouble_from: datetime | None = None,
    roads: SimRoads | None = None,
) -> tuple[list[SimVehicle], dict[str, VehicleScript]]:
    """Vehicles with their stops (in route order) and their scripted day (on ``roads``'
    streets when given: their legs are fetched here, see :func:`load_simulated_fleet_later`).

    OwnTracks vehicles get a device binding (``owntracks:<user>/phone``) so their positions are
    accepted — the dispatcher would have bound the phones the same way. The day driven is the
    one ``trouble_from`` falls on in the fleet's zone (today), not the highest date stored:
    tomorrow's planned routes are not driven today.
    """
    sims, later = load_simulated_fleet_later(db, seed, timezone, trouble_from, roads)
    return sims, later()


def load_simulated_fleet_later(
    db: Database,
    seed: int,
    timezone: str | None = None,
    trouble_from: datetime | None = None,
    roads: SimRoads | None = None,
) -> tuple[list[SimVehicle], Callable[[], dict[str, VehicleScript]]]:
    """The vehicles now, and what builds their scripts when called: on the simulator's own
    thread in the demo, where fetching each road leg must not hold up the console."""
    zone = timezone or machine_zone_name()  # the fleet's, when the caller knows it
    with db.session() as session:
        today = trouble_from.astimezone(ZoneInfo(zone)).date() if trouble_from else None
        shown = fleet_repo.day_to_show(session, today) if today else None
        routes = [r for r in fleet_repo.load_routes(session, shown) if r.vehicle_id]
        vehicles = {v.id: v for v in fleet_repo.load_vehicles(session)}
        types = route_kpi_repo.vehicle_type_by_id(session)
        sims: list[SimVehicle] = []
        users: set[str] = set()
        for i, route in enumerate(routes):
            info = vehicles[route.vehicle_id]
            owntracks = None
            if i % OWNTRACKS_EVERY == OWNTRACKS_EVERY - 1:
                owntracks = owntracks_identity(info.driver_name, info.id, users)
                fleet_repo.bind_device(session, f"owntracks:{owntracks[0]}/{owntracks[1]}", info.id)
            stops = tuple(
                SimStop(s.order_ref, s.lat, s.lon, s.service_s)
                for s in route.stops
                if s.status in ("pending", "next")
            )
            pickups = frozenset(s.order_ref for s in route.stops if s.kind == "pickup")
            kind = types.get(info.id) or "van"
            sims.append(SimVehicle(info.id, info.shift_start, stops, pickups, owntracks, kind))
        day = next((s.service_date for r in routes for s in r.stops), None)
    if day is None or not sims:
        return [], dict
    first = next(iter(vehicles.values()))
    depot = (first.depot_lat or routes[0].stops[0].lat, first.depot_lon or routes[0].stops[0].lon)
    return sims, lambda: build_scripts(sims, depot, day, zone, seed, trouble_from, roads)


def route_day(db: Database, today: date | None = None) -> date | None:
    """The day the simulator drives: ``today`` if it has routes, else the latest day."""
    with db.session() as session:
        shown = fleet_repo.day_to_show(session, today) if today else None
        routes = fleet_repo.load_routes(session, shown)
    return next((s.service_date for r in routes for s in r.stops), None)
