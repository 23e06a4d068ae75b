"""Road geometry of the day's routes for the map: the streets between stops, not chords.

Asked of the core's router (docs/routing.md) in the map's worker thread, one ``route``
request per route on its vehicle type's profile (a cargo bike's line takes the cycle ways),
and kept by profile and the exact sequence of places
(:class:`~dispatcher.routing.road_lines.RoadLines`): the 60-second re-read of an unchanged
day asks the engine nothing. Without a road engine there is nothing to ask, and the map draws
straight segments as it always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dispatcher.eta.travel import Location
from dispatcher.maps.routes import is_open, ordered
from dispatcher.model.stops import RouteView
from dispatcher.routing import Router
from dispatcher.routing.road_lines import RoadLines

Line = list[list[float]]


@dataclass(frozen=True, slots=True)
class RoutePaths:
    """One route's road lines: through every stop, and through the stops still to visit.

    ``signature`` is the route's stops as they were (id, place, open): lines drawn for another
    order or another set of open stops are not this route's any more.
    """

    signature: tuple[tuple[int, float, float, bool], ...]
    whole: Line
    remaining: Line


def signature(route: RouteView) -> tuple[tuple[int, float, float, bool], ...]:
    """What a route's road lines depend on: its stops in order, where, and which are open."""
    return tuple((s.id, s.lat, s.lon, is_open(s)) for s in ordered(route.stops))


@dataclass
class RoadPaths:
    """The road lines of routes, by vehicle id, from ``router`` (see the module doc)."""

    router: Router
    limit: int = 512
    lines: RoadLines = field(init=False)

    def __post_init__(self) -> None:
        self.lines = RoadLines(self.router, self.limit)

    @property
    def enabled(self) -> bool:
        """Whether there is a road engine to ask (straight lines need no request)."""
        return self.lines.enabled

    def for_routes(self, routes: Iterable[RouteView]) -> dict[str, RoutePaths]:
        """Road lines of each assigned route with two places or more (worker thread)."""
        out: dict[str, RoutePaths] = {}
        if not self.enabled:
            return out
        for route in routes:
            if not route.vehicle_id:
                continue
            stops = ordered(route.stops)
            kind = route.vehicle_type or None
            whole = self._line([(s.lat, s.lon) for s in stops], kind)
            remaining = self._line([(s.lat, s.lon) for s in stops if is_open(s)], kind)
            if whole or remaining:
                out[route.vehicle_id] = RoutePaths(signature(route), whole, remaining)
        return out

    def _line(self, places: Sequence[Location], vehicle_type: str | None) -> Line:
        if len(places) < 2:
            return []
        path = self.lines.path(places, vehicle_type)
        return [[round(lat, 6), round(lon, 6)] for lat, lon in path.points]
