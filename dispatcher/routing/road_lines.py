"""Road polylines through places, per road profile, kept so an unchanged route asks nothing.

The map's road lines (:mod:`dispatcher.maps.road_paths`) and the route-deviation rule's
planned path (:mod:`dispatcher.alerts.live_facts`) both ask the router the same question —
the streets through these places in this order, as this vehicle type drives — and ask it
again every time they re-read the day. One :class:`RoadLines` answers from a bounded LRU
keyed by (profile, rounded places): only a changed route reaches the engine.

A failed request (the engine down or slow past its ``timeout_s``: ``source == "straight"``)
is returned but not kept, so the next pass asks again instead of drawing chords all day.
Thread-safe: the map's worker and the rule runner's worker may share one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from threading import Lock

from dispatcher.eta.travel import Location, RoadPath
from dispatcher.routing.router import Router

Key = tuple[str, tuple[Location, ...]]


def rounded(places: Sequence[Location]) -> tuple[Location, ...]:
    """Places to 6 decimals (about 10 cm): the key, and what the engine is asked."""
    return tuple((round(lat, 6), round(lon, 6)) for lat, lon in places)


@dataclass
class RoadLines:
    """Road paths from ``router``, cached by profile and places (see the module doc)."""

    router: Router
    limit: int = 512
    _cache: OrderedDict[Key, RoadPath] = field(default_factory=OrderedDict)
    _lock: Lock = field(default_factory=Lock)

    @property
    def enabled(self) -> bool:
        """Whether there is a road engine to ask (straight lines need no request)."""
        return self.router.settings.provider == "osrm"

    def key(self, places: Sequence[Location], vehicle_type: str | None = None) -> Key:
        return self.router.settings.profile_for(vehicle_type), rounded(places)

    def cached(
        self, places: Sequence[Location], vehicle_type: str | None = None
    ) -> RoadPath | None:
        """The kept road path through ``places`` for ``vehicle_type``, without asking."""
        key = self.key(places, vehicle_type)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
            return found

    def path(self, places: Sequence[Location], vehicle_type: str | None = None) -> RoadPath:
        """The road path through ``places`` in order on ``vehicle_type``'s profile.

        Kept, or asked of the router (worker threads only: it may start the engine or wait
        for it up to its timeout). A straight answer is a failure and is not kept.
        """
        found = self.cached(places, vehicle_type)
        if found is not None:
            return found
        profile, points = self.key(places, vehicle_type)
        path = self.router.route(points, vehicle_type)
        if path.source != "straight":
            with self._lock:
                self._cache[(profile, points)] = path
                while len(self._cache) > self.limit:
                    self._cache.popitem(last=False)
        return path

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
