"""Small geometry for the rules: distances in metres, point-to-polyline, point-in-polygon.

A delivery area is a few tens of kilometres across, so a local equirectangular projection
(x = R·Δlon·cos(lat0), y = R·Δlat) centred on the point of interest is accurate to well under a
metre at the distances the rules care about (hundreds of metres), and needs no dependency.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from dispatcher import geo
from dispatcher.alerts.facts import Geofence, LatLon
from dispatcher.geo import EARTH_RADIUS_M


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance between two ``(lat, lon)`` points, in metres."""
    return geo.haversine_m(a[0], a[1], b[0], b[1])


def _project(origin: LatLon, p: LatLon) -> tuple[float, float]:
    """Metres east/north of ``origin`` (equirectangular, scale taken at the origin)."""
    dlon = (p[1] - origin[1] + 540.0) % 360.0 - 180.0  # shortest way round the antimeridian
    x = math.radians(dlon) * EARTH_RADIUS_M * math.cos(math.radians(origin[0]))
    y = math.radians(p[0] - origin[0]) * EARTH_RADIUS_M
    return x, y


def _segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


def distance_to_polyline_m(point: LatLon, path: Sequence[LatLon]) -> float:
    """Shortest distance from ``point`` to the polyline ``path`` in metres (inf if empty).

    The projection is centred on ``point`` itself, so the error grows only with the distance
    to the path, which is exactly where precision matters least.
    """
    if not path:
        return math.inf
    origin = (0.0, 0.0)
    projected = [_project(point, q) for q in path]
    if len(projected) == 1:
        return math.hypot(*projected[0])
    return min(_segment_distance(origin, a, b) for a, b in itertools.pairwise(projected))


def point_in_polygon(point: LatLon, polygon: Sequence[LatLon]) -> bool:
    """Ray casting in the local projection; points exactly on an edge count as inside."""
    pts = [_project(point, q) for q in polygon]
    inside = False
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        if _segment_distance((0.0, 0.0), (x1, y1), (x2, y2)) < 1e-6:
            return True
        if (y1 > 0) != (y2 > 0):
            x_cross = x1 + (0 - y1) * (x2 - x1) / (y2 - y1)
            if x_cross > 0:
                inside = not inside
    return inside


def in_fence(point: LatLon, fence: Geofence) -> bool:
    """True when ``point`` is inside the circle or polygon of ``fence`` (border included)."""
    if fence.center is not None and fence.radius_m is not None:
        return haversine_m(point, fence.center) <= fence.radius_m
    return point_in_polygon(point, fence.polygon)
