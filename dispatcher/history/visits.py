"""Proof of visit: which vehicles were within R metres of a point (or inside a zone) and when.

The database narrows the question to fixes inside the zone's bounding box (an indexed grid
cell and time range, see :mod:`dispatcher.persistence.history_repo`); the exact test runs
here, with the one haversine of :mod:`dispatcher.geo` for circles and a ray-casting test for
polygons. The answer rests on stored (thinned) fixes: a vehicle that stopped always has some,
one that drove past without stopping may have none inside a small radius.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dispatcher.errors import ValidationError
from dispatcher.geo import EARTH_RADIUS_M, haversine_m
from dispatcher.persistence import history_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.history_repo import Box

#: Widen boxes a little so rounding can never drop a fix the exact test would accept.
_BOX_MARGIN = 1e-7


@dataclass(frozen=True, slots=True)
class Circle:
    """Everything within ``radius_m`` metres of a point."""

    lat: float
    lon: float
    radius_m: float

    def __post_init__(self) -> None:
        _check_point(self.lat, self.lon)
        if not 0 < self.radius_m <= 100_000:
            raise ValidationError("the radius must be between 1 m and 100 km")

    def box(self) -> Box:
        dlat = math.degrees(self.radius_m / EARTH_RADIUS_M) + _BOX_MARGIN
        south, north = max(self.lat - dlat, -90.0), min(self.lat + dlat, 90.0)
        widest = max(abs(south), abs(north))
        if widest >= 89.9:
            return Box(south, -180.0, north, 180.0)
        dlon = dlat / math.cos(math.radians(widest)) + _BOX_MARGIN
        if dlon >= 180.0:
            return Box(south, -180.0, north, 180.0)
        west, east = self.lon - dlon, self.lon + dlon
        if west < -180.0:
            west += 360.0
        if east > 180.0:
            east -= 360.0
        return Box(south, west, north, east)

    def distance_m(self, lat: float, lon: float) -> float:
        return haversine_m(self.lat, self.lon, lat, lon)

    def contains(self, lat: float, lon: float) -> bool:
        return self.distance_m(lat, lon) <= self.radius_m


@dataclass(frozen=True, slots=True)
class Polygon:
    """A zone drawn as (lat, lon) corners; edges are straight in latitude/longitude."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValidationError("a zone needs at least three corners")
        for lat, lon in self.points:
            _check_point(lat, lon)
        lons = [lon for _, lon in self.points]
        if max(lons) - min(lons) > 180.0:
            raise ValidationError("zones across the 180th meridian are not supported")

    def box(self) -> Box:
        lats = [lat for lat, _ in self.points]
        lons = [lon for _, lon in self.points]
        m = _BOX_MARGIN
        return Box(min(lats) - m, min(lons) - m, max(lats) + m, max(lons) + m)

    def centre(self) -> tuple[float, float]:
        n = len(self.points)
        return sum(p[0] for p in self.points) / n, sum(p[1] for p in self.points) / n

    def distance_m(self, lat: float, lon: float) -> float:
        """Distance to the corners' centre (how deep inside; for sorting only)."""
        c_lat, c_lon = self.centre()
        return haversine_m(c_lat, c_lon, lat, lon)

    def contains(self, lat: float, lon: float) -> bool:
        """Ray casting (even-odd); a point on an edge may fall either way."""
        inside = False
        pts = self.points
        j = len(pts) - 1
        for i in range(len(pts)):
            (yi, xi), (yj, xj) = pts[i], pts[j]
            if (yi > lat) != (yj > lat):
                x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
                if lon < x_cross:
                    inside = not inside
            j = i
        return inside


Zone = Circle | Polygon


@dataclass(frozen=True, slots=True)
class Visit:
    """One vehicle's presence in the zone: first and last fix inside, closest approach."""

    vehicle_id: str
    first_seen: datetime
    last_seen: datetime
    fixes: int
    closest_m: float

    @property
    def dwell_s(self) -> float:
        return (self.last_seen - self.first_seen).total_seconds()


def _check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValidationError(f"({lat}, {lon}) is not a latitude/longitude")


@dataclass(slots=True)
class _Seen:
    first: datetime
    last: datetime
    fixes: int
    closest_m: float


def summarize(zone: Zone, rows: Sequence[history_repo.PositionTuple]) -> list[Visit]:
    """Group the fixes inside ``zone`` by vehicle (rows in time order), earliest visit first."""
    seen: dict[str, _Seen] = {}
    for vid, ts, lat, lon, _speed, _heading in rows:
        if not zone.contains(lat, lon):
            continue
        d = zone.distance_m(lat, lon)
        entry = seen.get(vid)
        if entry is None:
            seen[vid] = _Seen(ts, ts, 1, d)
        else:
            entry.first, entry.last = min(entry.first, ts), max(entry.last, ts)
            entry.fixes += 1
            entry.closest_m = min(entry.closest_m, d)
    visits = [Visit(vid, e.first, e.last, e.fixes, e.closest_m) for vid, e in seen.items()]
    visits.sort(key=lambda v: (v.first_seen, v.vehicle_id))
    return visits


def proof_of_visit(db: Database, zone: Zone, start: datetime, end: datetime) -> list[Visit]:
    """Every vehicle with a stored fix inside ``zone`` between ``start`` and ``end``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("visit times must carry a time zone")
    if end < start:
        raise ValidationError("the period must end after it starts")
    with db.session() as session:
        rows = history_repo.positions_in_box(
            session, zone.box(), start.astimezone(UTC), end.astimezone(UTC)
        )
    return summarize(zone, rows)
