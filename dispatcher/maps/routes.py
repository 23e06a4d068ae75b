"""The selected vehicle's day on the map: numbered stops, the remaining path, live estimates.

The estimate here is the map's own quick look-ahead — straight line x circuity at a city
speed from the vehicle's live position, waiting for window starts and adding service times —
good enough to paint a stop "late" the moment the vehicle cannot make its window. The alert
rules stay the authority: a stop with an open ``late`` alert is late whatever this says.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dispatcher.alerts.facts import Geofence
from dispatcher.fleet.state import VehicleSnapshot
from dispatcher.geo import haversine_m
from dispatcher.maps.styling import StopStyle, stop_style
from dispatcher.model.core import StopStatus
from dispatcher.persistence.fleet_repo import RouteView, StopView, VehicleView


@dataclass(frozen=True, slots=True)
class TravelGuess:
    """Straight line x circuity at a free-flow city speed (the travel model's defaults)."""

    speed_kmh: float = 30.0
    circuity: float = 1.3

    def seconds(self, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        return haversine_m(lat1, lon1, lat2, lon2) * self.circuity / (self.speed_kmh / 3.6)


def is_open(stop: StopView) -> bool:
    try:
        return not StopStatus(stop.status).is_final
    except ValueError:
        return True


def ordered(stops: Iterable[StopView]) -> list[StopView]:
    """Stops in route order (unsequenced ones last, by order reference)."""
    return sorted(stops, key=lambda s: (s.sequence is None, s.sequence or 0, s.order_ref))


def next_stop(route: RouteView) -> StopView | None:
    return next((s for s in ordered(route.stops) if is_open(s)), None)


def estimate_arrivals(
    stops: Sequence[StopView],
    start: tuple[float, float] | None,
    now: datetime,
    travel: TravelGuess = TravelGuess(),
) -> dict[int, datetime]:
    """Expected arrival at each open stop, in order, starting from ``start`` at ``now``.

    Without a live position the plan's arrival times stand in (nothing to estimate from).
    """
    out: dict[int, datetime] = {}
    t = now
    here = start
    for stop in stops:
        if not is_open(stop):
            continue
        if here is None:
            if stop.planned_arrival is not None:
                out[stop.id] = stop.planned_arrival
            continue
        t += timedelta(seconds=travel.seconds(here[0], here[1], stop.lat, stop.lon))
        out[stop.id] = t
        if stop.window_start is not None and t < stop.window_start:
            t = stop.window_start
        t += timedelta(seconds=stop.service_s)
        here = (stop.lat, stop.lon)
    return out


def is_late(stop: StopView, eta: datetime | None) -> bool:
    return eta is not None and stop.window_end is not None and eta > stop.window_end


def _hhmm(t: datetime | None, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%H:%M") if t is not None else ""


def window_text(stop: StopView, tz: tzinfo) -> str:
    if stop.window_start is None and stop.window_end is None:
        return ""
    return f"{_hhmm(stop.window_start, tz) or '…'}–{_hhmm(stop.window_end, tz) or '…'}"


def route_payload(
    route: RouteView,
    vehicle: VehicleSnapshot | None,
    now: datetime,
    tz: tzinfo,
    late_stop_ids: Collection[int] = (),
    flagged_stop_ids: Collection[int] = (),
) -> dict[str, Any]:
    """What the page draws for the selected route.

    ``stops`` rows are ``[id, number, lat, lon, style, customer, address, window, eta, kind,
    flagged]`` (``flagged`` is 1 when the stop has an open exception);
    ``path`` runs from the vehicle's live position through the open stops in order.
    """
    stops = ordered(route.stops)
    start = None
    if vehicle is not None and vehicle.lat is not None and vehicle.lon is not None:
        start = (vehicle.lat, vehicle.lon)
    etas = estimate_arrivals(stops, start, now)
    rows: list[list[Any]] = []
    path: list[list[float]] = [[start[0], start[1]]] if start else []
    first_open = True
    for number, stop in enumerate(stops, start=1):
        eta = etas.get(stop.id)
        style = stop_style(stop.status, late=stop.id in late_stop_ids or is_late(stop, eta))
        if style is StopStyle.PENDING and first_open and is_open(stop):
            style = StopStyle.NEXT
        if is_open(stop):
            first_open = False
            path.append([round(stop.lat, 6), round(stop.lon, 6)])
        rows.append(
            [
                stop.id,
                number,
                round(stop.lat, 6),
                round(stop.lon, 6),
                style.value,
                stop.customer_name,
                stop.address,
                window_text(stop, tz),
                _hhmm(eta, tz),
                stop.kind,
                1 if stop.id in flagged_stop_ids else 0,
            ]
        )
    return {
        "vehicle": route.vehicle_id,
        "name": route.vehicle_name,
        "stops": rows,
        "path": path,
    }


def depots_payload(vehicles: Iterable[VehicleView]) -> list[list[Any]]:
    """Depots as ``[lat, lon, label]``, one per distinct location the vehicles start from."""
    counts: dict[tuple[float, float], int] = {}
    for v in vehicles:
        if v.depot_lat is not None and v.depot_lon is not None:
            key = (round(v.depot_lat, 6), round(v.depot_lon, 6))
            counts[key] = counts.get(key, 0) + 1
    return [[lat, lon, f"Depot · {n} vehicles"] for (lat, lon), n in counts.items()]


def geofences_payload(fences: Iterable[Geofence]) -> list[dict[str, Any]]:
    """Circles (``c`` + ``r`` metres) and polygons (``p``) with their names."""
    out: list[dict[str, Any]] = []
    for f in fences:
        if f.polygon:
            out.append({"name": f.name, "p": [[lat, lon] for lat, lon in f.polygon]})
        elif f.center is not None and f.radius_m:
            out.append({"name": f.name, "c": list(f.center), "r": f.radius_m})
    return out


def bounds(points: Iterable[tuple[float, float]]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of the points, or None when there are none."""
    lats: list[float] = []
    lons: list[float] = []
    for lat, lon in points:
        lats.append(lat)
        lons.append(lon)
    if not lats:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
