"""The simulated fleet's roads: each leg asked of the road engine once, before the drive.

With ``[routing]`` on an engine, a simulated van drives the engine's road path between its
stops in the engine's time for it (docs/routing.md, "The simulator"), so the positions a
tracker or phone reports lie on streets and a leg takes as long as planning thinks it does.
The legs are fetched when the day's scripts are built (in parallel, a few at a time: the
engine child answers on two threads), never while positions are published: the simulator's
loop is a lookup in what was fetched. A leg the engine cannot route (an address the car
network cannot leave, a dead engine) is a warning and today's straight line, never a crash.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dispatcher.geo import haversine_m
from dispatcher.routing.router import Router
from dispatcher.simulator.road_leg import Point, RoadLeg
from dispatcher.simulator.script import LegRoads

log = logging.getLogger(__name__)

#: Legs fetched at once while the scripts are built.
WORKERS = 4
#: Legs named one by one in the log when they fall back to a straight line; the rest counted.
WARN_LEGS = 3
#: Farthest a place may lie from the street the engine snapped it to (metres). Farther, the
#: dataset does not cover it (a Helsinki dataset asked about Berlin snaps to Helsinki):
#: the leg is a straight line rather than a drive to another city and back.
MAX_KERB_M = 1000.0


def _key(p: Point) -> Point:
    return round(p[0], 6), round(p[1], 6)


class SimRoads:
    """The engine's legs for the simulator, by profile, each asked for once."""

    def __init__(self, router: Router, *, workers: int = WORKERS) -> None:
        self.router = router
        self._workers = workers
        self._lock = threading.Lock()
        self._legs: dict[tuple[str, Point, Point], RoadLeg | None] = {}
        #: Legs that fell back to a straight line (the simulator says how many).
        self.straight = 0

    @classmethod
    def of(cls, router: Router | None) -> SimRoads | None:
        """Roads for ``router``, or None without an engine (straight lines, as ever)."""
        if router is None or router.settings.provider == "haversine":
            return None
        return cls(router)

    def for_type(self, vehicle_type: str | None) -> LegRoads:
        """The legs of ``vehicle_type``'s profile (``[routing.profiles]``)."""

        def leg(a: Point, b: Point) -> RoadLeg | None:
            return self.leg(vehicle_type, a, b)

        return leg

    def prefetch(self, legs: Iterable[tuple[str | None, Point, Point]]) -> None:
        """Ask for every ``(vehicle_type, a, b)`` not yet known, a few at a time."""
        todo = {(vt, _key(a), _key(b)) for vt, a, b in legs if _key(a) != _key(b)}
        todo = {t for t in todo if self._profile_key(*t) not in self._legs}
        if not todo:
            return
        with ThreadPoolExecutor(self._workers, thread_name_prefix="sim-roads") as pool:
            list(pool.map(lambda t: self.leg(*t), sorted(todo, key=str)))

    def leg(self, vehicle_type: str | None, a: Point, b: Point) -> RoadLeg | None:
        """The engine's road from ``a`` to ``b``; None (a straight line) when it has none."""
        key = self._profile_key(vehicle_type, _key(a), _key(b))
        with self._lock:
            if key in self._legs:
                return self._legs[key]
        found = self._fetch(vehicle_type, a, b)
        count = 0
        with self._lock:
            self._legs[key] = found
            if found is None:
                self.straight += 1
                count = self.straight
        if found is None:
            level = logging.WARNING if count <= WARN_LEGS else logging.DEBUG
            log.log(
                level,
                "simulator: no %s road from %.5f,%.5f to %.5f,%.5f; driving a straight line",
                key[0],
                *a,
                *b,
            )
        return found

    def _profile_key(
        self, vehicle_type: str | None, a: Point, b: Point
    ) -> tuple[str, Point, Point]:
        return self.router.settings.profile_for(vehicle_type), a, b

    def _fetch(self, vehicle_type: str | None, a: Point, b: Point) -> RoadLeg | None:
        timed = self._timed(vehicle_type, a, b)
        if timed is not None:
            points, duration, pieces = timed
        else:  # the router's own path (which says why it has none)
            try:
                path = self.router.route([a, b], vehicle_type)
            except Exception as exc:  # an engine's bug must not stop the demo fleet
                log.warning("simulator: the road engine failed on a leg: %s", exc)
                return None
            if path is None or path.source == "straight":
                return None
            points, duration, pieces = list(path.points), path.duration_s, None
        if len(points) < 2 or not math.isfinite(duration) or duration < 0:
            return None
        kerb = max(haversine_m(*a, *points[0]), haversine_m(*b, *points[-1]))
        if kerb > MAX_KERB_M:
            return None
        return RoadLeg.through(a, b, points, duration, pieces)

    def _timed(
        self, vehicle_type: str | None, a: Point, b: Point
    ) -> tuple[list[Point], float, list[float]] | None:
        """The engine's route with each piece's time (``annotations=duration``), so the van
        slows on slow streets; None when the engine gives no such answer (the caller then
        asks :meth:`Router.route`, which logs why)."""
        engine = self.router.engine(self.router.settings.profile_for(vehicle_type))
        if engine is None:
            return None
        url = (
            f"{engine.base_url.rstrip('/')}/route/v1/{engine.profile}/"
            f"{a[1]:.6f},{a[0]:.6f};{b[1]:.6f},{b[0]:.6f}"
            "?overview=full&geometries=geojson&steps=false&annotations=duration"
        )
        try:
            body: Any = json.loads(engine.fetch(url, engine.timeout_s))
            best = body["routes"][0]
            line = [(float(lat), float(lon)) for lon, lat in best["geometry"]["coordinates"]]
            pieces = [float(t) for t in best["legs"][0]["annotation"]["duration"]]
            return line, float(best["duration"]), pieces
        except (OSError, ValueError, KeyError, TypeError, IndexError):  # the router's path
            return None

    def summary(self) -> str:
        """How many legs the engine drew and how many are straight lines (logs, CLI)."""
        with self._lock:
            drawn = sum(1 for leg in self._legs.values() if leg is not None)
        return f"{drawn} legs on the roads of {self.router.source}, {self.straight} straight"
