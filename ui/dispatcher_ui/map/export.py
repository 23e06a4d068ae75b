"""File > Export map as HTML: the day's routes in one self-contained page (folium).

The file opens in any browser, also offline: Leaflet is inlined from the installed
``xstatic-leaflet`` package instead of linked from a CDN; the OpenStreetMap basemap shows when
the reader is online. Tooltips go through :mod:`dispatcher_ui.map.html_page`: names are escaped text
in a JavaScript string literal, never pasted into folium's template literals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path

import folium

from dispatcher.fleet.state import VehicleSnapshot
from dispatcher.maps.routes import bounds, ordered, window_text
from dispatcher.maps.styling import PALETTE, DisplayState, stop_style
from dispatcher.model.stops import RouteView
from dispatcher_ui.map.html_page import layer_name, standalone, tooltip

#: Distinct route colours (ColorBrewer Dark2 + Set1), cycled.
ROUTE_COLOURS = (
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    "#a6761d", "#377eb8", "#e41a1c", "#984ea3", "#ff7f00", "#4daf4a",
)  # fmt: skip
_STOP_FILL = {"done": "#9e9e9e", "failed": "#212121", "late": "#e53935"}


def export_day(
    routes: Iterable[RouteView],
    vehicles: Iterable[VehicleSnapshot],
    path: Path,
    tz: tzinfo,
    title: str = "Routes of the day",
) -> int:
    """Write the routes (and the vehicles' last positions) to ``path``; returns the stop count."""
    routes = [r for r in routes if r.vehicle_id and r.stops]
    points = [(s.lat, s.lon) for r in routes for s in r.stops]
    box = bounds(points)
    fmap = standalone(title, location=[52.52, 13.405], zoom_start=11)
    for i, route in enumerate(routes):
        _add_route(fmap, route, ROUTE_COLOURS[i % len(ROUTE_COLOURS)], tz)
    for snap in vehicles:
        if snap.lat is None or snap.lon is None:
            continue
        marker = folium.CircleMarker(
            [snap.lat, snap.lon],
            radius=6,
            color="#ffffff",
            fill=True,
            fill_color=PALETTE[DisplayState.ON_TIME][0],
            fill_opacity=0.95,
        )
        marker.add_child(tooltip("{}", snap.vehicle_id))
        marker.add_to(fmap)
    if box is not None:
        fmap.fit_bounds(box)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.save(str(path))
    return len(points)


def _add_route(fmap: folium.Map, route: RouteView, colour: str, tz: tzinfo) -> None:
    group = folium.FeatureGroup(name=layer_name(f"{route.vehicle_name} ({route.driver_name})"))
    stops = ordered(route.stops)
    line = folium.PolyLine([(s.lat, s.lon) for s in stops], color=colour, weight=4, opacity=0.8)
    line.add_to(group)
    for number, stop in enumerate(stops, start=1):
        style = stop_style(stop.status, late=False).value
        fill = _STOP_FILL.get(style, colour)
        tip = tooltip(
            "#{} {}<br>{}<br>Window {}<br>Status {}",
            number,
            stop.customer_name,
            stop.address,
            window_text(stop, tz),
            stop.status,
        )
        marker = folium.Marker(
            [stop.lat, stop.lon],
            icon=folium.DivIcon(
                html=(
                    f'<div style="background:{fill};color:#fff;border:1px solid #fff;'
                    "border-radius:50%;width:20px;height:20px;font:bold 10px/20px sans-serif;"
                    f'text-align:center">{number}</div>'
                ),
                icon_size=(20, 20),
                icon_anchor=(10, 10),
            ),
        )
        marker.add_child(tip)
        marker.add_to(group)
    group.add_to(fmap)
