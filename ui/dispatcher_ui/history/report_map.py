"""The day report's HTML map (folium): every vehicle's actual track and its stops.

Lives on the UI side because the core never imports folium; it needs no Qt, so the
``dispatcher report day`` command uses it headless too. The page carries Leaflet inline
(:func:`dispatcher_ui.map.html_page.standalone`), so it opens offline; the basemap shows when
online. Popups and tooltips are built by :mod:`dispatcher_ui.map.html_page`: order ids, names and
addresses are escaped text inside a JavaScript string literal, never pasted into folium's template
literals.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import folium

from dispatcher import display
from dispatcher.errors import DispatcherError
from dispatcher.persistence.database import Database
from dispatcher.reports.day import (
    DayReport,
    StopReportRow,
    build_day_report,
    default_names,
    load_day_tracks,
    write_csv,
)
from dispatcher.reports.route_days import export_route_days
from dispatcher_ui.map.html_page import layer_name, popup, standalone, tooltip

#: Track colours, cycled per vehicle (colour-blind friendly Okabe-Ito, then Tableau).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#4E79A7",
    "#F28E2B",
    "#59A14F",
    "#B07AA1",
)
STATUS_COLOURS = {"done": "#2e7d32", "failed": "#c62828", "arrived": "#1565c0"}


def build_map(
    report: DayReport,
    tracks: dict[str, list[tuple[float, float]]],
    lengths_m: dict[str, float] | None = None,
) -> folium.Map:
    """A Leaflet map with one layer per vehicle: its track and its stops coloured by outcome.

    With ``lengths_m`` a layer's name carries the vehicle's tracked distance, in the fleet's
    units; times in popups are in the fleet's locale (:mod:`dispatcher.display`).
    """
    points = [p for track in tracks.values() for p in track]
    points += [(r.stop.lat, r.stop.lon) for r in report.rows]
    fmap = standalone(f"Day report {report.day.isoformat()}")
    tz = ZoneInfo(report.timezone)
    vehicles = sorted(set(tracks) | {r.stop.vehicle_id or "" for r in report.rows})
    for i, vid in enumerate(vehicles):
        colour = PALETTE[i % len(PALETTE)]
        name = next((r.stop.vehicle_name for r in report.rows if r.stop.vehicle_id == vid), "")
        label = name or vid or "unassigned"
        if lengths_m and vid in lengths_m:
            label += f" · {display.current().distance(lengths_m[vid])}"
        layer = folium.FeatureGroup(name=layer_name(label))
        track = tracks.get(vid, [])
        if len(track) >= 2:
            folium.PolyLine(track, color=colour, weight=3, opacity=0.8).add_to(layer)
        for row in report.rows:
            if (row.stop.vehicle_id or "") == vid:
                _stop_marker(row, tz, colour).add_to(layer)
        layer.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    if points:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return fmap


def _hhmm(value: datetime | None, tz: ZoneInfo) -> str:
    return display.current().clock(value.astimezone(tz)) if value else "-"


def _stop_marker(row: StopReportRow, tz: ZoneInfo, colour: str) -> folium.CircleMarker:
    s = row.stop
    late = f" · {row.lateness_min:g} min late" if row.lateness_min else ""
    fill = STATUS_COLOURS.get(s.status, "#9e9e9e")
    marker = folium.CircleMarker(
        (s.lat, s.lon),
        radius=6,
        color=colour,
        weight=2,
        fill=True,
        fill_color=fill,
        fill_opacity=0.9,
    )
    marker.add_child(
        popup(
            "<b>{}</b> #{}<br>{}<br>{}<br>status: {}, attempts {}<br>planned {} · actual {}{}",
            s.order_ref,
            s.sequence if s.sequence is not None else "-",
            s.customer_name,
            s.address,
            s.status,
            s.attempts,
            _hhmm(s.planned_arrival, tz),
            _hhmm(s.actual_arrival, tz),
            late,
        )
    )
    marker.add_child(tooltip("{} · {}", s.order_ref, s.status))
    return marker


def export_day_report(db: Database, day: date, timezone: str, out_dir: Path) -> tuple[Path, Path]:
    """Write the CSV and the HTML map of ``day`` into ``out_dir``; returns both paths. The
    route sheet (planned vs actual, cost, CO₂e: ``day-routes-<day>.csv``) is written too."""
    report = build_day_report(db, day, timezone)
    csv_name, map_name = default_names(day)
    csv_path = write_csv(report, out_dir / csv_name)
    export_route_days(db, day, timezone, out_dir)  # day-routes-<day>.csv: cost and CO2e
    tracks = load_day_tracks(db, day, timezone)
    fmap = build_map(report, tracks.points, tracks.lengths_m)
    map_path = out_dir / map_name
    try:
        fmap.save(str(map_path))
    except OSError as exc:
        raise DispatcherError(f"cannot write {map_path}: {exc.strerror or exc}") from None
    return csv_path, map_path
