"""The demo day: a parcel fleet in Berlin, generated deterministically from a seed.

Neighbourhood centres and street names are real, so the map looks like a real day; points are
jittered within a few hundred metres of a centre so they stay on land. The same seed and date
always give the same scenario (tests and screenshots rely on it).
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.clock import system_now
from dispatcher.scenario.records import (
    CustomerRecord,
    DepotRecord,
    DriverRecord,
    OrderRecord,
    Scenario,
    VehicleRecord,
)

TIMEZONE = "Europe/Berlin"
#: The demo's company name (its messages are signed with it).
COMPANY = "Berlin Parcels"
DEPOT = DepotRecord(
    id="D1",
    name="Tempelhof hub",
    address="Ordensmeisterstraße 15, 12099 Berlin",
    lat=52.4650,
    lon=13.3900,
)

#: (neighbourhood, lat, lon, streets) — real places in Berlin.
NEIGHBOURHOODS: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("Kreuzberg", 52.4986, 13.4030, ("Oranienstraße", "Bergmannstraße", "Wiener Straße")),
    ("Neukölln", 52.4811, 13.4350, ("Sonnenallee", "Weserstraße", "Karl-Marx-Straße")),
    ("Schöneberg", 52.4850, 13.3540, ("Akazienstraße", "Goltzstraße", "Hauptstraße")),
    ("Friedrichshain", 52.5150, 13.4540, ("Boxhagener Straße", "Simon-Dach-Straße")),
    ("Prenzlauer Berg", 52.5390, 13.4240, ("Kastanienallee", "Schönhauser Allee")),
    ("Mitte", 52.5260, 13.4000, ("Torstraße", "Invalidenstraße", "Linienstraße")),
    ("Moabit", 52.5270, 13.3400, ("Turmstraße", "Stromstraße", "Beusselstraße")),
    ("Charlottenburg", 52.5080, 13.3050, ("Kantstraße", "Wilmersdorfer Straße")),
    ("Wilmersdorf", 52.4880, 13.3150, ("Uhlandstraße", "Brandenburgische Straße")),
    ("Tempelhof", 52.4660, 13.3850, ("Tempelhofer Damm", "Manfred-von-Richthofen-Straße")),
    ("Steglitz", 52.4560, 13.3220, ("Schloßstraße", "Albrechtstraße")),
    ("Treptow", 52.4900, 13.4700, ("Elsenstraße", "Puschkinallee")),
    ("Wedding", 52.5500, 13.3650, ("Müllerstraße", "Seestraße", "Osloer Straße")),
    ("Lichtenberg", 52.5150, 13.4950, ("Frankfurter Allee", "Möllendorffstraße")),
)

FIRST = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elif",
    "Felix",
    "Greta",
    "Hannah",
    "Ismail",
    "Jonas",
    "Katarzyna",
    "Lena",
    "Mehmet",
    "Nora",
    "Oskar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sofia",
    "Tim",
    "Ute",
    "Viktor",
    "Wiebke",
    "Yusuf",
    "Zoe",
    "Marta",
    "Luca",
    "Amira",
    "Jan",
    "Ida",
)
LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Yılmaz",
    "Kaya",
    "Nowak",
    "Kowalski",
    "Hoffmann",
    "Schulz",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
)
COMPANIES = (
    "Bäckerei Lindner",
    "Apotheke am Markt",
    "Café Kranich",
    "Buchhandlung Hansen",
    "Blumen Kaiser",
    "Praxis Dr. Wendt",
    "Atelier Nord",
    "Weinhandlung Vogel",
)
DRIVERS = (
    "Murat Demir",
    "Svenja Krause",
    "Piotr Zielinski",
    "Lisa Brandt",
    "Kemal Arslan",
    "Julia Sommer",
    "Tomasz Wójcik",
    "Nina Albrecht",
    "Stefan Roth",
    "Aylin Çelik",
    "Marco Ferrari",
    "Heike Vogt",
)


#: The demo's sizes (``dispatcher demo``/``simulate --vehicles --stops``): the default day,
#: and the bounds a size must keep (a typo such as ``--stops 250000`` would build for minutes).
DEFAULT_VEHICLES = 12
DEFAULT_STOPS = 250
MAX_VEHICLES = 5000
MAX_STOPS = 100_000

#: One fleet of twelve, repeated to any size: eight plain vans, two cooling vans and two
#: cargo bikes (a city parcel fleet's mix). Vehicle ``i`` is kind ``MIX[i % 12]``.
_VAN, _COOLING = ("Van", 140, (), "van"), ("Van", 120, ("cooling",), "van")
_BIKE = ("Cargo bike", 40, ("bike",), "cargo_bike")
MIX: tuple[tuple[str, int, tuple[str, ...], str], ...] = (
    (_VAN,) * 8 + (_COOLING,) * 2 + (_BIKE,) * 2
)


def demo_scenario(
    service_date: date | None = None,
    seed: int = 7,
    n_orders: int = DEFAULT_STOPS,
    n_vehicles: int = DEFAULT_VEHICLES,
    timezone: str = TIMEZONE,
) -> Scenario:
    """Build the demo day. ``service_date`` defaults to today in ``timezone``.

    ``timezone`` is the fleet's: shifts and windows are wall-clock times of that zone, so the
    same day can be built in Berlin, St. John's or Kolkata (the suite runs in several).
    Any size keeps the default fleet's mix of vans and cargo bikes, and every driver a name
    of their own (the simulator names OwnTracks phones after them).
    """
    tz = ZoneInfo(timezone)
    day = service_date or system_now(tz).date()
    rng = random.Random(seed)
    scenario = Scenario("Berlin parcels demo", day, timezone, depots=[DEPOT])
    for i in range(n_vehicles):
        scenario.drivers.append(
            DriverRecord(f"DR{i + 1:02d}", driver_name(i), f"+49 151 {2000000 + i * 7919:07d}")
        )
        scenario.vehicles.append(_vehicle(i, rng))
    scenario.orders = [_order(i, day, tz, rng) for i in range(n_orders)]
    scenario.routes = sweep_routes(scenario)
    return scenario


def driver_name(i: int) -> str:
    """The ``i``-th driver's name: the twelve of the default demo, then first and last names
    combined without repeating a pair (780 of them), then numbered."""
    if i < len(DRIVERS):
        return DRIVERS[i]
    n = i - len(DRIVERS)
    pairs = len(FIRST) * len(LAST)
    # Walk first and last names in step (a shifting diagonal) so neighbours differ in both.
    first = FIRST[n % len(FIRST)]
    last = LAST[(n + n // len(FIRST)) % len(LAST)]
    return f"{first} {last}" if n < pairs else f"{first} {last} {n // pairs + 1}"


def _vehicle(i: int, rng: random.Random) -> VehicleRecord:
    label, capacity, skills, vehicle_type = MIX[i % len(MIX)]
    start = (time(7, 0), time(7, 30), time(8, 0), time(9, 0))[i % 4]
    end = time(start.hour + 9 + (i % 2), start.minute)
    return VehicleRecord(
        id=f"V{i + 1:02d}",
        name=f"{label} {i + 1:02d}",
        plate=f"B-DL {1000 + i * 37}",
        depot_id=DEPOT.id,
        driver_id=f"DR{i + 1:02d}",
        capacity=capacity,
        shift_start=start,
        shift_end=end,
        skills=tuple(skills),
        vehicle_type=vehicle_type,
    )


def _order(i: int, day: date, tz: ZoneInfo, rng: random.Random) -> OrderRecord:
    hood, lat0, lon0, streets = NEIGHBOURHOODS[i % len(NEIGHBOURHOODS)]
    lat = lat0 + rng.uniform(-0.007, 0.007)
    lon = lon0 + rng.uniform(-0.011, 0.011)
    street = rng.choice(streets)
    business = rng.random() < 0.15
    name = rng.choice(COMPANIES) if business else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    ref = f"C{i + 1:04d}"
    email_name = name.lower().replace(" ", ".").replace("ü", "ue").replace("ö", "oe")
    email_name = "".join(ch for ch in email_name if ch.isascii() and (ch.isalnum() or ch == "."))
    customer = CustomerRecord(
        ref=ref,
        name=name,
        phone=f"+49 30 {rng.randint(2000000, 99999999)}",
        email=f"{email_name}@example.com",
        preferred_channel="email" if rng.random() < 0.3 else "sms",
    )
    window_start, window_end = _window(rng, day, tz, business)
    kind = "pickup" if rng.random() < 0.04 else "delivery"
    return OrderRecord(
        order_ref=f"ORD-{day:%Y%m%d}-{i + 1:04d}",
        service_date=day,
        customer=customer,
        address=f"{street} {rng.randint(1, 180)}, {hood}, Berlin",
        lat=round(lat, 6),
        lon=round(lon, 6),
        window_start=window_start,
        window_end=window_end,
        service_s=rng.choice((120, 180, 240, 300, 300, 420, 600)),
        demand=rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 8)),
        kind=kind,
    )


def _window(
    rng: random.Random, day: date, tz: ZoneInfo, business: bool
) -> tuple[datetime | None, datetime | None]:
    roll = rng.random()
    if roll < 0.25:
        return None, None
    if business:
        start_h, length_min = rng.choice((8, 9, 10)), 180
    elif roll < 0.40:
        start_h, length_min = rng.randint(9, 15), 30
    else:
        start_h, length_min = rng.randint(8, 14), 120
    start = datetime.combine(day, time(start_h, rng.choice((0, 30))), tz)
    return start.astimezone(ZoneInfo("UTC")), (start + timedelta(minutes=length_min)).astimezone(
        ZoneInfo("UTC")
    )


def sweep_routes(scenario: Scenario) -> dict[str, list[str]]:
    """A first plan by angular sweep around the depot, ordered by window within each sector.

    It is a plausible dispatcher's morning plan, not an optimum: some stops come out late,
    which is what the route boards and the optimizer are for.
    """
    depot = scenario.depots[0]
    orders = sorted(
        scenario.orders, key=lambda o: math.atan2(o.lat - depot.lat, (o.lon - depot.lon) * 0.61)
    )
    vehicles = scenario.vehicles
    total = sum(v.capacity for v in vehicles)
    routes: dict[str, list[str]] = {v.id: [] for v in vehicles}
    idx = 0
    for v in vehicles:
        share = round(len(orders) * v.capacity / total)
        chunk = orders[idx : idx + share] if v is not vehicles[-1] else orders[idx:]
        idx += len(chunk)
        routes[v.id] = [o.order_ref for o in _by_window(chunk, v, scenario)]
    return routes


def _by_window(
    chunk: list[OrderRecord], vehicle: VehicleRecord, scenario: Scenario
) -> list[OrderRecord]:
    """Visit order within one vehicle's sector: by window end; stops without a window are
    spread over the shift in sweep order (not all left for the evening)."""
    tz = ZoneInfo(scenario.timezone)
    day = scenario.service_date
    start = datetime.combine(day, vehicle.shift_start, tz)
    span = datetime.combine(day, vehicle.shift_end, tz) - start
    n = max(len(chunk), 1)

    def key(pair: tuple[int, OrderRecord]) -> tuple[datetime, str]:
        i, order = pair
        return (order.window_end or start + span * (i + 0.5) / n, order.order_ref)

    return [order for _, order in sorted(enumerate(chunk), key=key)]
