"""Road times the GUI thread may ask for: fetched beforehand in a worker, never waited on.

The console's route desk evaluates on the GUI thread at each load, edit and live refresh,
where no engine may be asked (a dead server would freeze the window). So the read of the day,
which already runs in a worker, also *warms* this provider with the road matrix of the day's
places (stops and depots); the desk's matrices then take each pair from it, and straight
lines only for what it has not seen: a vehicle's live position, a stop placed since.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from dispatcher.eta.travel import (
    FloatArray,
    LazyMatrixProvider,
    Location,
    SpeedProfile,
    TravelMatrix,
    TravelTimeProvider,
)
from dispatcher.model.stops import RouteView
from dispatcher.persistence.fleet_repo import VehicleView

Key = tuple[float, float]


def _key(place: Location) -> Key:
    return (round(place[0], 6), round(place[1], 6))


def day_places(routes: Iterable[RouteView], vehicles: Iterable[VehicleView]) -> list[Location]:
    """Every stop of the day (pool included) and every vehicle's depot, once each."""
    places: dict[Key, None] = {}
    for route in routes:
        for s in route.stops:
            places[_key((s.lat, s.lon))] = None
    for v in vehicles:
        if v.depot_lat is not None and v.depot_lon is not None:
            places[_key((v.depot_lat, v.depot_lon))] = None
    return list(places)


class WarmRoads:
    """A :class:`~dispatcher.eta.travel.TravelTimeProvider` whose :meth:`matrix` never blocks.

    Args:
        road: The engine's provider, asked only by :meth:`warm` (a worker).
        fallback: Straight lines for the pairs not warmed (the desk's usual ones), possibly
            with learned speeds (docs/eta.md).
        active: False when there is no engine to warm from (straight-line routing): then
            :meth:`warm` asks nothing and every matrix is ``fallback``'s.
    """

    def __init__(
        self, road: TravelTimeProvider, fallback: TravelTimeProvider, *, active: bool = True
    ) -> None:
        self.road, self.fallback, self.active = road, fallback, active
        self._lock = threading.Lock()
        self._index: dict[Key, int] = {}
        self._dist: FloatArray = np.zeros((0, 0))
        self._dur: FloatArray = np.zeros((0, 0))
        self._profile = SpeedProfile.flat()  # replaced by the warmed matrix's, read only then

    def warm(self, places: Sequence[Location]) -> bool:
        """Fetch the road matrix of ``places`` (blocks: worker threads only).

        Replaces what was warmed before (a day's places, not a growing cache). False when
        the engine did not answer: the pairs then stay straight, as without an engine.
        """
        keys = list(dict.fromkeys(_key(p) for p in places))
        if not self.active or len(keys) < 2:
            return False
        tm = self.road.matrix(keys)
        if tm.source != "osrm":
            return False
        with self._lock:
            self._index = {k: i for i, k in enumerate(keys)}
            self._dist, self._dur, self._profile = tm.distance, tm.duration, tm.profile
        return True

    def lazy_matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        """Per-entry straight lines for a day too large to hold every pair, while nothing is
        warmed (no road engine, or before the first read); else :meth:`matrix`."""
        with self._lock:
            warmed = bool(self._index)
        if not warmed and isinstance(self.fallback, LazyMatrixProvider):
            return self.fallback.lazy_matrix(locations)
        return self.matrix(locations)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        backup = self.fallback.matrix(locations)
        with self._lock:
            index, dist_w, dur_w, profile = self._index, self._dist, self._dur, self._profile
        rows = np.array([index.get(_key(p), -1) for p in locations], dtype=np.int64)
        known = rows >= 0
        if not known.any():
            return backup
        dist, dur = backup.distance.copy(), backup.duration.copy()
        k = np.flatnonzero(known)
        dist[np.ix_(k, k)] = dist_w[np.ix_(rows[k], rows[k])]
        dur[np.ix_(k, k)] = dur_w[np.ix_(rows[k], rows[k])]
        source = "osrm" if known.all() else "osrm+straight"
        return TravelMatrix(dist, dur, profile, source)
