"""A vehicle's live leg on the roads: its row of road times, fetched on a thread of its own.

The warmed matrix (:mod:`dispatcher.routing.warm`) holds the day's fixed places; a vehicle's
live position is not one of them, so its leg to its next stop was a straight line on the
boards. :class:`LiveLegRoads` is the warmed provider plus one thing: when a matrix has a place
it has not warmed (a live position), it queues that place, rounded to
:data:`LIVE_DECIMALS` (about 100 m), for its own worker thread, which asks the engine for the
row from it to every warmed place (OSRM's table, one source). The GUI thread never waits:
until the row is in, that place's row stays straight, and the next evaluation (the boards
re-evaluate on live positions every few seconds) takes the roads. A vehicle moving on within
its rounded cell reuses the row; a new cell is a new row. Rows belong to one warming: a new
day's warming drops them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from dispatcher.eta.learned import LEG_SAMPLES, LearnedSpeeds
from dispatcher.eta.osrm import OsrmProvider
from dispatcher.eta.travel import FloatArray, Location, TravelMatrix, TravelTimeProvider
from dispatcher.routing.warm import WarmRoads, _key

log = logging.getLogger(__name__)

#: Decimals of a live position's cell: 3 is about 110 m north-south (less east-west).
LIVE_DECIMALS = 3
#: Cells waiting for their row at most; more are asked again by a later evaluation.
MAX_PENDING = 64
#: Rows kept at most, in cells times warmed places (about 64 MB of floats)...
MAX_CELLS = 4_000_000
#: ...but at least this many rows: one a vehicle, the least recently used going first.
MIN_ROWS = 1024

Cell = tuple[float, float]
Row = tuple[FloatArray, FloatArray]


def cell(place: Location) -> Cell:
    return (round(place[0], LIVE_DECIMALS), round(place[1], LIVE_DECIMALS))


class LiveLegRoads(WarmRoads):
    """:class:`WarmRoads` whose unwarmed origins get the engine's row once it is fetched.

    ``engine`` gives the OSRM provider of the warmed profile (None: none answers), asked on
    the worker only; ``learned`` the speeds whose shape the warmed matrix carries.
    """

    def __init__(
        self,
        road: TravelTimeProvider,
        fallback: TravelTimeProvider,
        *,
        active: bool = True,
        engine: Callable[[], OsrmProvider | None] = lambda: None,
        learned: LearnedSpeeds | None = None,
    ) -> None:
        super().__init__(road, fallback, active=active)
        self._engine, self._learned = engine, learned
        self._cv = threading.Condition()
        self._generation = 0
        self._places: list[Location] = []
        #: The warmed index the rows are aligned with (a new warming replaces the object).
        self._row_index: dict[tuple[float, float], int] | None = None
        self._rows: OrderedDict[Cell, Row | None] = OrderedDict()
        self._pending: OrderedDict[Cell, Location] = OrderedDict()
        self._flying: Cell | None = None  # the cell the worker is fetching
        self._thread: threading.Thread | None = None
        self._closed = False
        self._warned = False

    def warm(self, places: Sequence[Location]) -> bool:
        done = super().warm(places)
        if done:
            with self._lock:
                index = self._index
            with self._cv:
                self._generation += 1
                self._row_index = index
                self._places = sorted(index, key=index.__getitem__)
                self._rows.clear()
                self._pending.clear()
                self._flying = None  # its row is of the old places: asked again if needed
        return done

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        tm = super().matrix(locations)
        if not self.active or tm.source != "osrm+straight":
            return tm
        with self._lock:
            index = self._index
        cols = np.array([index.get(_key(p), -1) for p in locations], dtype=np.int64)
        known = np.flatnonzero(cols >= 0)
        dist, dur = tm.distance, tm.duration
        copied = False
        with self._cv:
            if index is not self._row_index:
                return tm  # a warming in progress: its rows come with it
            for i in np.flatnonzero(cols < 0):
                place = locations[int(i)]
                c = cell(place)
                if c not in self._rows:
                    self._ask(c, place)
                    continue
                row = self._rows[c]
                self._rows.move_to_end(c)  # in use: the last to go
                if row is None:
                    continue  # the engine had no row from there: straight, as before
                if not copied:
                    dist, dur, copied = dist.copy(), dur.copy(), True
                d, t = row[0][cols[known]], row[1][cols[known]]
                ok = np.isfinite(d) & np.isfinite(t)
                dist[i, known[ok]], dur[i, known[ok]] = d[ok], t[ok]
        return TravelMatrix(dist, dur, tm.profile, tm.source) if copied else tm

    def _ask(self, c: Cell, origin: Location) -> None:
        """Queue ``c`` for the worker (caller holds ``_cv``); never blocks."""
        busy = c in self._pending or c == self._flying
        if self._closed or busy or len(self._pending) >= MAX_PENDING:
            return
        self._pending[c] = origin
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="live-legs", daemon=True)
            self._thread.start()
        self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                c, origin = self._pending.popitem(last=True)  # the newest: where vans are
                generation, places = self._generation, self._places
                self._flying = c
            row = self._fetch(origin, places)
            with self._cv:
                self._flying = None
                if generation != self._generation:
                    continue
                self._rows[c] = row
                self._rows.move_to_end(c)
                while len(self._rows) > max(MIN_ROWS, MAX_CELLS // max(1, len(places))):
                    self._rows.popitem(last=False)

    def _fetch(self, origin: Location, places: list[Location]) -> Row | None:
        """The engine's row from ``origin`` to every warmed place; None when it has none."""
        engine = self._engine()
        if engine is None or not places:
            return None
        dist = np.full(len(places), np.nan)
        dur = np.full(len(places), np.nan)
        step = max(1, engine.max_locations - 1)
        try:
            for lo in range(0, len(places), step):
                chunk = places[lo : lo + step]
                d, t = engine._fetch_block(  # one source: its row, not n x n
                    [origin, *chunk], [0], list(range(1, len(chunk) + 1))
                )
                dist[lo : lo + len(chunk)], dur[lo : lo + len(chunk)] = d[0], t[0]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not self._warned:
                self._warned = True
                log.warning("live legs stay straight: the engine's table failed (%s)", exc)
            return None
        if self._learned is not None:  # the warmed matrix's shape, as RoadProvider's
            dur = dur * _row_ratio(self._learned.relative(), origin, places)
        return dist, dur


def _row_ratio(speeds: LearnedSpeeds, origin: Location, places: list[Location]) -> FloatArray:
    """The learned factor of each leg from ``origin`` (LearnedProvider's, for one row)."""
    a = np.asarray(origin, dtype=np.float64).reshape(1, 2)
    b = np.asarray(places, dtype=np.float64).reshape(-1, 2)
    ts = np.linspace(0.0, 1.0, LEG_SAMPLES)
    pts = a[:, None, :] * (1 - ts)[None, :, None] + b[:, None, :] * ts[None, :, None]
    ratio: FloatArray = (
        speeds.area_ratio(pts.reshape(-1, 2)).reshape(len(b), LEG_SAMPLES).mean(axis=1)
    )
    return ratio
