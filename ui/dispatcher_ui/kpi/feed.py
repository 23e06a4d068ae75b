"""Feeds the KPI dock and the timeline: one background load of the day every few seconds.

The GUI thread only copies the live positions (the fleet state is not thread-safe) and
starts :func:`dispatcher.kpi.snapshot.load_snapshot` with
:func:`dispatcher_ui.workers.run_in_background`; it never waits on the database. At most one load
runs at a time, and none while neither view is on screen.

Everything proportional to the fleet is computed in that worker too: the timeline, the
report of the scope the KPI dock shows (``scope``), and whatever the views register in
:attr:`KpiFeed.views` (the timeline's arrays). At 500 vehicles / 10,000 stops, computing the
report and the timeline's arrays when a load landed held the GUI thread for half a second
(bench/console.py); the views now only hand the prepared figures to their widgets.

Each route's cost and CO₂e (read from the day's position history, the slowest part by far)
are a job of their own, started once the figures they belong to are shown, and announced
with :attr:`KpiFeed.routes_loaded`; the loads in between carry the last ones over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from dispatcher.clock import system_monotonic
from dispatcher.errors import DispatcherError
from dispatcher.kpi.rollup import RouteDayResult
from dispatcher.kpi.schedule import LatLon
from dispatcher.kpi.snapshot import KpiSnapshot, load_snapshot
from dispatcher.model.core import VehicleState
from dispatcher.model.kpi import FLEET, Scope
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)

#: Seconds of wall time between two loads (the demo clock may run faster; the DB does not).
REFRESH_S = 5.0
#: At most this many seconds between two computations of the routes' cost, CO₂e and km
#: driven (they read the day's position history; in between, the last ones are carried over).
ROUTES_REFRESH_S = 60.0
#: ... and otherwise this many times what the last computation took, so a small fleet's boards
#: follow the vans at every load while a big day's history is not re-read every few seconds.
#: (With a fixed minute, the demo's boards showed the "0.0 km driven" computed as the console
#: opened, before the simulated fleet's morning had been stored, for the whole first minute.)
ROUTES_COST_FACTOR = 20.0
#: Between two loads of the figures, at least this many times what the last one took: a
#: small fleet's load (tens of ms) still runs every :data:`REFRESH_S`, while a 500-vehicle
#: day's (1–3 s of Python in a worker, whose every slice of the interpreter lock the GUI
#: thread waits out: bench/console.py) takes at most an eighth of the time, not half of it.
LOAD_COST_FACTOR = 8.0


class KpiFeed(QObject):
    """Loads :class:`KpiSnapshot` objects off the GUI thread and announces them."""

    #: A fresh :class:`KpiSnapshot`.
    loaded = Signal(object)
    #: A message a person can read when a load failed (the previous figures stay shown).
    failed = Signal(str)
    #: The latest :class:`KpiSnapshot` with its routes' cost and CO₂e computed (their own
    #: job, after ``loaded``: :meth:`_load_routes`).
    routes_loaded = Signal(object)

    def __init__(
        self,
        window: Shell,
        *,
        interval_s: float = REFRESH_S,
        wanted: Callable[[], bool] | None = None,
        scope: Callable[[], Scope] | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._interval = interval_s
        self._wanted = wanted or (lambda: True)
        self._scope = scope or (lambda: FLEET)
        #: Preparations run in the loading worker on each snapshot, by view name; their
        #: results are in the snapshot's ``views``. They must not touch Qt objects.
        self.views: dict[str, Callable[[KpiSnapshot], Any]] = {}
        self._busy = False
        self._routes_busy = False
        self._last = -float("inf")
        self._routes_last = -float("inf")
        #: Seconds until the routes' figures are due again (see :data:`ROUTES_COST_FACTOR`).
        self.routes_every = ROUTES_REFRESH_S
        #: Seconds between two loads of the figures (see :data:`LOAD_COST_FACTOR`).
        self.every = interval_s
        self.latest: KpiSnapshot | None = None

    @property
    def busy(self) -> bool:
        return self._busy

    def tick(self) -> None:
        """The window's tick hook: start a load when one is due and someone looks.

        Not while the window reads the day's routes: both are the same CPU-bound Python in
        two workers sharing one interpreter lock, and the boards come first (at 500 vehicles
        a KPI load started at start-up doubled the time to the first boards,
        bench/console.py). Nor while the routes' cost and CO₂e are computed (:meth:`_load_routes`,
        ~14 s at 500 driving vehicles): the figures are on screen already, and a second
        CPU-bound job beside it takes more of the interpreter from the GUI thread.
        :meth:`refresh` (a new day, the bench) still starts one.
        """
        if self._window.routes_loading or self._routes_busy:
            return
        if system_monotonic() - self._last >= self.every and self._wanted():
            self.refresh()

    def soon(self) -> None:
        """Load at the first tick the routes are in (a new day: the boards read it first)."""
        self._last = -float("inf")

    def refresh(self) -> bool:
        """Start a load now unless one is running; returns whether one was started."""
        if self._busy:
            return False
        self._busy = True
        self._last = system_monotonic()
        core = self._window.core
        tz = self._window.routes_model.timezone
        now = core.clock.now()
        positions = self._positions()
        day = self._window.service_day
        routes_due = self._last - self._routes_last >= self.routes_every
        if routes_due:
            self._routes_last = self._last
        previous = self.latest.routes if self.latest is not None else ()
        scope = self._scope()
        views = dict(self.views)

        def load() -> KpiSnapshot:
            began = system_monotonic()
            try:
                return figures()
            finally:  # read on the GUI thread at the next tick: one float, no lock
                took = system_monotonic() - began
                self.every = max(self._interval, LOAD_COST_FACTOR * took)

        def figures() -> KpiSnapshot:
            provider = core.routing.fleet()
            snapshot = load_snapshot(core.db, tz, now, positions, day=day, provider=provider)
            snapshot = snapshot.with_timeline().with_report(scope)
            snapshot = replace(
                snapshot, views={k: prepare(snapshot) for k, prepare in views.items()}
            )
            same_day = previous and previous[0].day.service_date == snapshot.records.day
            return replace(snapshot, routes=previous) if same_day else snapshot

        run_in_background(load, lambda snapshot: self._done(snapshot, routes_due), self._error)
        return True

    @property
    def routes_busy(self) -> bool:
        """The routes' cost and CO₂e are being computed (their own job, see below)."""
        return self._routes_busy

    def _load_routes(self, snapshot: KpiSnapshot) -> None:
        """Compute each route's planned-vs-actual, cost and CO₂e of ``snapshot``'s day, in
        a job of its own, once the snapshot's other figures are shown.

        It reads the day's position history: 13.7 s in a worker on a driving 500-vehicle day
        (bench/console.py). In the same job as the other figures, the dock said "Loading the
        day…" all that while and the refreshes behind it waited; now the figures show at
        once and the routes' line follows (:attr:`routes_loaded`). One runs at a time.
        """
        if self._routes_busy:
            return
        self._routes_busy = True
        core = self._window.core

        def work() -> tuple[RouteDayResult, ...] | None:
            began = system_monotonic()
            try:
                return snapshot.with_routes(core.db, core.routing.provider()).routes
            except DispatcherError as exc:  # the other figures still show
                log.warning("cannot compute the routes' cost and CO2e: %s", exc)
                return None
            finally:  # read on the GUI thread at the next refresh: one float, no lock
                took = system_monotonic() - began
                self.routes_every = min(
                    ROUTES_REFRESH_S, max(self._interval, ROUTES_COST_FACTOR * took)
                )

        day = snapshot.records.day
        run_in_background(work, lambda routes: self._routes_done(day, routes), self._routes_error)

    def _routes_done(self, day: date, routes: tuple[RouteDayResult, ...] | None) -> None:
        self._routes_busy = False
        latest = self.latest
        if routes is None or latest is None or latest.records.day != day:
            return  # failed (said in the log), or another day is shown now
        self.latest = replace(latest, routes=routes)
        self.routes_loaded.emit(self.latest)

    def _routes_error(self, exc: Exception) -> None:
        self._routes_busy = False
        log.warning("the routes' cost and CO2e failed: %s", exc)

    def _positions(self) -> dict[str, LatLon]:
        live = self._window.core.live
        if live is None:
            return {}
        return {
            s.vehicle_id: (s.lat, s.lon)
            for s in live.fleet.snapshots()
            if s.lat is not None and s.lon is not None and s.state is not VehicleState.OFFLINE
        }

    def _done(self, snapshot: KpiSnapshot, routes_due: bool = False) -> None:
        self._busy = False
        self.latest = snapshot
        self.loaded.emit(snapshot)
        if routes_due:
            self._load_routes(snapshot)

    def _error(self, exc: Exception) -> None:
        self._busy = False
        log.warning("KPI refresh failed: %s", exc)
        self.failed.emit(f"Could not refresh the figures: {exc}")
