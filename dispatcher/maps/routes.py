"""The day's routes on the map: every route faintly, the selected one numbered, the pool.

ETAs are not estimated here: they are the route boards' (:mod:`dispatcher.planning.stop_eta`),
so a stop's tooltip on the map and its row on the board say the same time. The alert rules
stay the authority on lateness too: a stop with an open ``late`` alert is late whatever the
prediction says.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from dispatcher import display
from dispatcher.alerts.facts import Geofence
from dispatcher.fleet.state import VehicleSnapshot
from dispatcher.maps.styling import StopStyle, stop_style
from dispatcher.model.core import StopStatus
from dispatcher.model.stops import RouteView, StopView
from dispatcher.persistence.fleet_repo import VehicleView
from dispatcher.planning.stop_eta import StopEta


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


def _hhmm(t: datetime | None, tz: tzinfo) -> str:
    return display.current().clock(t.astimezone(tz)) if t is not None else ""


def window_text(stop: StopView, tz: tzinfo) -> str:
    if stop.window_start is None and stop.window_end is None:
        return ""
    return f"{_hhmm(stop.window_start, tz) or '…'}–{_hhmm(stop.window_end, tz) or '…'}"


def route_payload(
    route: RouteView,
    vehicle: VehicleSnapshot | None,
    etas: Mapping[int, StopEta],
    tz: tzinfo,
    late_stop_ids: Collection[int] = (),
    flagged_stop_ids: Collection[int] = (),
    road: list[list[float]] | None = None,
) -> dict[str, Any]:
    """What the page draws for the selected route.

    ``stops`` rows are ``[id, number, lat, lon, style, customer, address, window, eta, kind,
    flagged]`` (``flagged`` is 1 when the stop has an open exception; ``eta`` is the boards'
    HH:MM from ``etas``); ``path`` runs from the vehicle's live position through the open
    stops in order, along ``road`` (the road line through the open stops,
    :mod:`dispatcher.maps.road_paths`) when there is one.
    """
    stops = ordered(route.stops)
    start = None
    if vehicle is not None and vehicle.lat is not None and vehicle.lon is not None:
        start = (vehicle.lat, vehicle.lon)
    rows: list[list[Any]] = []
    path: list[list[float]] = [[start[0], start[1]]] if start else []
    first_open = True
    for number, stop in enumerate(stops, start=1):
        eta = etas.get(stop.id)
        late = stop.id in late_stop_ids or (eta is not None and not eta.actual and eta.late_s > 0)
        style = stop_style(stop.status, late=late)
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
                "" if eta is None else _hhmm(eta.arrival, tz),
                stop.kind,
                1 if stop.id in flagged_stop_ids else 0,
            ]
        )
    if road and len(road) > 1:
        path = ([[start[0], start[1]]] if start else []) + road
    return {
        "vehicle": route.vehicle_id,
        "name": route.vehicle_name,
        "stops": rows,
        "path": path,
    }


def overview_payload(
    routes: Iterable[RouteView], roads: Mapping[str, list[list[float]]] | None = None
) -> list[list[Any]]:
    """Every vehicle's day as ``[vehicle_id, name, [[lat, lon], ...]]``, stops in order.

    Drawn faintly under everything, so a planned day shows its routes before any is selected;
    along the road line of ``roads`` (by vehicle id) when there is one, else straight.
    """
    out: list[list[Any]] = []
    for route in routes:
        if route.vehicle_id and route.stops:
            path = (roads or {}).get(route.vehicle_id) or [
                [round(s.lat, 6), round(s.lon, 6)] for s in ordered(route.stops)
            ]
            out.append([route.vehicle_id, route.vehicle_name, path])
    return out


def unassigned_payload(routes: Iterable[RouteView], tz: tzinfo) -> list[list[Any]]:
    """Orders on no route as ``[id, lat, lon, customer, address, window, order_ref]``."""
    return [
        [
            s.id,
            round(s.lat, 6),
            round(s.lon, 6),
            s.customer_name,
            s.address,
            window_text(s, tz),
            s.order_ref,
        ]
        for route in routes
        if not route.vehicle_id
        for s in route.stops
        if is_open(s)
    ]


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
