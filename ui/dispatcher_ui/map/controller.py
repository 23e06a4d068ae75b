"""Feeds the map from the core once per UI tick and keeps it in step with the app's selection.

Per tick: what changed in the fleet (FleetChanged events, collected between ticks), the open
exceptions (on AlertsChanged, and re-read every 30 s in case no one announces them), the day's
routes (on RoutesChanged from the route desk, and re-read every 60 s for a desk whose saves
reach no one here), the selected route when it changed — all in ONE batch to the page. A click
on the map selects in :attr:`Shell.selection`; a selection made elsewhere centres and
highlights here.

The day's routes and the open exceptions are read off the GUI thread
(:mod:`dispatcher_ui.map.loader`); their results land between ticks and go out with the next batch.

Replay (the history room's replay bar): :meth:`MapController.show_replay` draws a frame of the
past instead of the live fleet — one batch per frame, same markers, a "REPLAY hh:mm:ss"
banner — until :meth:`MapController.end_replay` redraws the live state in full.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from dispatcher.clock import system_monotonic
from dispatcher.errors import ConfigError, DispatcherError
from dispatcher.fleet.state import FleetChanged, FleetState
from dispatcher.maps.feed import MapFeed
from dispatcher.maps.jsbridge import escape_html, to_js
from dispatcher.maps.mbtiles import MBTilesReader
from dispatcher.maps.replay import Frame, ReplayFeed
from dispatcher.maps.road_paths import RoadPaths, RoutePaths, signature
from dispatcher.maps.routes import (
    bounds,
    depots_payload,
    overview_payload,
    route_payload,
    unassigned_payload,
)
from dispatcher.maps.settings import MapSettings
from dispatcher.maps.tile_cache import TileCache
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.planning.desk import RoutesChanged
from dispatcher.planning.stop_eta import StopEta, StopEtasChanged
from dispatcher_ui.map.loader import LatestLoad
from dispatcher_ui.map.page import DEFAULT_CENTER, BaseLayer, PageOptions
from dispatcher_ui.map.pick import PositionPicker
from dispatcher_ui.map.view import MapView
from dispatcher_ui.map.web import scheme_handler
from dispatcher_ui.selection import Selection

if TYPE_CHECKING:
    from dispatcher.model.alerts import Alert
    from dispatcher_ui.shell import Shell

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DayOnMap:
    """The day's routes and the overview the page draws of them, prepared in the reading
    worker: at 500 vehicles / 10,000 stops the overview's lists and their JavaScript took
    ~50 ms of the GUI thread at each read (bench/console.py)."""

    routes: list[RouteView]
    by_vehicle: dict[str, RouteView]
    #: The road lines still true of their route (the others wait for the next road read).
    roads: dict[str, RoutePaths]
    batch: dict[str, Any]
    js: str


def whole_roads(roads: Mapping[str, RoutePaths]) -> dict[str, list[list[float]]]:
    """Each route's whole road line, where there is one (the overview draws it)."""
    return {vid: p.whole for vid, p in roads.items() if p.whole}


def day_on_map(routes: list[RouteView], roads: Mapping[str, RoutePaths], tz: tzinfo) -> DayOnMap:
    """:class:`DayOnMap` of ``routes``, drawn along those of ``roads`` that still fit them."""
    by_vehicle = {r.vehicle_id: r for r in routes if r.vehicle_id}
    kept = {
        vid: p
        for vid, p in roads.items()
        if vid in by_vehicle and p.signature == signature(by_vehicle[vid])
    }
    batch = {
        "routes": overview_payload(routes, whole_roads(kept)),
        "unassigned": unassigned_payload(routes, tz),
    }
    return DayOnMap(routes, by_vehicle, kept, batch, to_js(batch))


class MapController(QObject):
    """The map room's glue between the window (core, selection) and the :class:`MapView`."""

    #: Re-read the day's routes / the open exceptions at least this often (wall seconds).
    #: The routes follow RoutesChanged at once; the poll only catches another console's
    #: saves when no sync note brings them (no broker, or no route board open here).
    routes_every_s = 60.0
    alerts_every_s = 5.0
    #: How long a failed read's message stays in the status bar (ms).
    error_message_ms = 10000
    #: Recompute the selected route's estimates at most this often.
    route_every_s = 2.0

    def __init__(self, window: Shell, view: MapView | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.core = window.core
        self.view = view or MapView()
        self.problems: list[str] = []
        self.settings = self._settings()
        live = self.core.live
        self.fleet: FleetState = live.fleet if live is not None else FleetState()
        self.feed = MapFeed(self.fleet, window.routes_model.timezone)
        self.routes: dict[str, RouteView] = {}
        #: The route boards' ETAs by stop id (announced with StopEtasChanged): one source.
        self.etas: dict[int, StopEta] = {}
        #: The day's overview (every route faintly, the unassigned pool) as last sent.
        self._day_batch: dict[str, Any] | None = None
        #: ``_day_batch`` as the page gets it, written once per change (it was serialised at
        #: every tick to compare: thousands of stops five times a second, bench/console.py).
        self._day_js = ""
        self._sent_day = ""
        self.alerts: list[Alert] = []
        self._routes_at = self._alerts_at = self._route_at = 0.0
        self._sent_route = ""
        self._selection_dirty = True
        self._centre = False
        #: The routes the boards' reload just read (RoutesChanged), for the next routes load
        #: to show instead of reading the day again; None: that load reads (the poll).
        self._given: tuple[RouteView, ...] | None = None
        self.routes_load = LatestLoad(
            "routes", self._fetch_routes, self._apply_routes, self._load_failed
        )
        self.alerts_load = LatestLoad(
            "open exceptions", self._fetch_open_alerts, self._apply_alerts, self._load_failed
        )
        #: Road lines of the routes (docs/routing.md), asked of the router in a worker after
        #: each read of the routes; without a road engine the lines stay straight.
        self.road_paths = RoadPaths(self.core.routing)
        self.roads: dict[str, RoutePaths] = {}
        self._roads_for: list[RouteView] = []
        self.roads_load = LatestLoad(
            "road paths", self._fetch_roads, self._apply_roads, self._load_failed
        )
        self.replay_feed = ReplayFeed(window.routes_model.timezone, self.fleet.config.stale_after_s)
        #: Whether the map shows a replay (not the live fleet).
        self.replaying = False
        self._frame: Frame | None = None  # the newest replay frame not yet sent
        self._last_frame: Frame | None = None  # the one on the page (resent after a reload)
        self._back_to_live = False  # the next live batch replaces the replay on the page
        self._unsubscribe: list[Callable[[], None]] = [
            self.core.bus.subscribe(FleetChanged, self._on_fleet_changed),
            self.core.bus.subscribe(StopEtasChanged, self._on_etas),
            self.core.bus.subscribe(RoutesChanged, self._on_routes_changed),
        ]
        self._subscribe_alerts()
        window.selection.changed.connect(self._on_selection)
        self.view.bridge.vehicle_clicked.connect(self._on_vehicle_clicked)
        self.view.bridge.stop_clicked.connect(self._on_stop_clicked)
        self.view.pageReady.connect(self._on_page_ready)
        self.view.applied.connect(self._on_applied)
        #: Pick mode: the dispatcher clicks where an order is (ui/dispatcher_ui/map/pick.py).
        self.picker = PositionPicker(window, self.view)
        #: The depots (markers, and the centre without ``[map] center``) are read in a worker;
        #: the page is built when they arrive, or without them if the read fails.
        self.depots_load = LatestLoad(
            "depots", self._fetch_depots, self._load_page, self._no_depots
        )
        self.depots_load.request()

    # -- set-up ---------------------------------------------------------------------------
    def _settings(self) -> MapSettings:
        try:
            return MapSettings.from_sections(self.core.settings.sections)
        except ConfigError as exc:
            self.problems.append(f"{exc} Using the default map settings.")
            log.warning("%s", exc)
            return MapSettings.from_sections({})

    def base_layers(self) -> list[BaseLayer]:
        """MBTiles first (offline), then the online source through the disk cache."""
        handler = scheme_handler()
        layers: list[BaseLayer] = []
        s = self.settings
        if s.mbtiles is not None:
            try:
                reader = MBTilesReader(s.mbtiles)
            except ConfigError as exc:
                self.problems.append(str(exc))
            else:
                lo, hi = reader.zoom_range
                url = handler.add_mbtiles(f"mbtiles-{abs(hash(str(s.mbtiles))):x}", reader)
                # The file's metadata is data, not markup of ours: shown as text.
                credit = escape_html(reader.attribution)
                layers.append(BaseLayer(f"Offline: {reader.name}", url, credit, hi, lo))
        if s.source is not None:
            cache = TileCache(s.cache_dir, s.cache_max_bytes)
            url = handler.add_online(s.source, cache)
            layers.append(BaseLayer(s.source.name, url, s.source.attribution, s.source.max_zoom))
        return layers

    def _fetch_depots(self) -> list[list[Any]]:
        """Runs in a worker thread (see :class:`LatestLoad`)."""
        with self.core.db.session() as session:
            return depots_payload(fleet_repo.load_vehicles(session))

    def _load_page(self, depots: list[list[Any]]) -> None:
        self.view.load_page(self.page_options(depots))

    def _no_depots(self, what: str, exc: Exception) -> None:
        self._load_failed(what, exc)
        self._load_page([])

    def page_options(self, depots: list[list[Any]] | None = None) -> PageOptions:
        depots = depots or []
        center = self.settings.center
        if center is None:
            center = (depots[0][0], depots[0][1]) if depots else DEFAULT_CENTER
        return PageOptions(
            center=center,
            zoom=self.settings.zoom,
            layers=self.base_layers(),
            depots=depots,
            label_zoom=self.settings.label_zoom,
            trail_minutes=self.settings.trail_minutes,
        )

    def _subscribe_alerts(self) -> None:
        try:
            from dispatcher.alerts.events import AlertsChanged
        except ImportError:
            return
        self._unsubscribe.append(self.core.bus.subscribe(AlertsChanged, self._on_alerts_changed))
        self.alerts_every_s = 30.0  # announced changes reload at once; the poll is a safety net

    # -- events ---------------------------------------------------------------------------
    def _on_fleet_changed(self, event: FleetChanged) -> None:
        self.feed.mark(event.vehicle_ids)

    def _on_etas(self, event: StopEtasChanged) -> None:
        self.etas = dict(event.etas)
        self.feed.set_etas({sid: eta.arrival for sid, eta in self.etas.items()})
        self._route_at = 0.0  # the selected route's stops show the new times next tick

    def _on_routes_changed(self, event: RoutesChanged) -> None:
        """The route desk saved or re-read a day: read it next tick if it is the one shown.

        A re-read brings the routes it read: those are shown (their overview prepared in a
        worker) instead of reading the same 10,000 stops a second time, which at 500
        vehicles was ~0.5 s of Python beside the GUI thread after every F5 and every save
        of another desk (bench/console.py)."""
        if self.window.service_day not in (None, event.day):
            return
        if event.routes is not None:
            self._routes_at = system_monotonic()
            self._given = event.routes
            self.routes_load.request()
        else:
            self._routes_at = 0.0

    def _on_alerts_changed(self, _event: object) -> None:
        self._alerts_at = 0.0

    def _on_page_ready(self) -> None:
        self.feed.resend_all()
        self.replay_feed.restart()
        self._frame = self._frame or self._last_frame
        self._sent_route = self._sent_day = ""
        self._selection_dirty = True
        self._alerts_at = 0.0
        if self._day_batch is None and not self.routes_load.in_flight:
            self._routes_at = 0.0  # nothing read yet (what was, goes out again as it is)
        self.tick()

    def _on_applied(self) -> None:
        """The page took the last batch: a replay frame waiting meanwhile goes at once."""
        if self.replaying and self._frame is not None:
            self._tick_replay()

    def _on_selection(self, selection: Selection) -> None:
        self._selection_dirty = True
        self._centre = selection.source != "map"
        self._route_at = 0.0

    def _on_vehicle_clicked(self, vehicle_id: str) -> None:
        self.window.selection.select_vehicle(vehicle_id, source="map")

    def _on_stop_clicked(self, stop_id: int, vehicle_id: str) -> None:
        self.window.selection.select_stop(stop_id, vehicle_id or None, source="map")

    # -- per tick -------------------------------------------------------------------------
    def tick(self) -> None:
        """Send at most one batch: whatever changed since the page last heard from us."""
        if not self.view.ready:
            return
        now_wall = system_monotonic()
        self._refresh(now_wall)
        if self.replaying:
            self._tick_replay()
            return
        now = self.core.clock.now()
        self.feed.collect(now)
        if not self.view.can_send(len(self.fleet)):
            return
        batch = self.feed.take() or {}
        selection = self.window.selection.current
        dirty = self._selection_dirty
        route: dict[str, Any] | None = None
        if dirty or now_wall - self._route_at >= self.route_every_s:
            self._route_at = now_wall
            route = self._route_batch(selection)
            key = to_js(route)
            if key != self._sent_route or dirty:
                self._sent_route = key
                batch["route"] = route
                if dirty and route is not None and selection.stop_id is not None and self._centre:
                    batch["focus"] = selection.stop_id
        if dirty:
            # a stop chosen elsewhere (messages, timeline) highlights its vehicle too
            batch["sel"] = selection.vehicle_id or (route["vehicle"] if route else None)
            batch["centre"] = self._centre
            self._selection_dirty = False
        day = self._day_batch
        if day is not None and self._day_js != self._sent_day:
            self._sent_day = self._day_js
            batch.update(day)
        if self._back_to_live:
            batch.update(reset=1, replay=None)
            self._back_to_live = False
        if batch:
            self.view.send(batch)

    def _refresh(self, now_wall: float) -> None:
        """Ask for the routes / open exceptions when due; the reads run off the GUI thread.

        Not the routes while the boards read the day: their read announces what it read
        (:meth:`_on_routes_changed`), and the map shows that instead of reading it too (at
        start-up and at each day picked, two reads of 10,000 stops at 500 vehicles)."""
        if now_wall - self._routes_at >= self.routes_every_s and not self.window.routes_loading:
            self._routes_at = now_wall
            self._given = None
            self.routes_load.request()
        if now_wall - self._alerts_at >= self.alerts_every_s:
            self._alerts_at = now_wall
            self.alerts_load.request()

    def _fetch_routes(self) -> DayOnMap:
        """The routes of the day the window shows and their overview (off the GUI thread):
        those a reload of the boards read (:meth:`_on_routes_changed`), else read here."""
        given = self._given
        routes = (
            list(given) if given is not None else self.core.load_routes(self.window.service_day)
        )
        return day_on_map(routes, self.roads, self.window.routes_model.timezone)

    def show_day(self, _day: object) -> None:
        """The day picker moved: read that day's routes now, not at the next refresh."""
        self._routes_at = 0.0

    def refresh_routes(self) -> None:
        """Read the day's routes now (a stop was placed by hand): its marker moves."""
        self._routes_at = system_monotonic()
        self._given = None
        self.routes_load.request()

    def _apply_routes(self, day: DayOnMap) -> None:
        if not self.routes:
            # a selection made before the first read (a stop, an exception) finds its route
            # only now: send it again, with its centring and focus
            self._selection_dirty = True
        routes = day.routes
        self.routes = day.by_vehicle
        # lines still true of their route are kept until the new ones come (a road read
        # that landed while this one was prepared is asked again below)
        self.roads = day.roads
        self._day_batch = day.batch
        self._day_js = day.js
        self.feed.set_routes(routes)
        self._route_at = 0.0
        if self.road_paths.enabled:
            self._roads_for = list(self.routes.values())
            self.roads_load.request()

    def _fetch_roads(self) -> dict[str, RoutePaths]:
        """Runs in a worker thread: the router may start its engine or ask a server."""
        return self.road_paths.for_routes(self._roads_for)

    def _apply_roads(self, roads: dict[str, RoutePaths]) -> None:
        self.roads = {
            vid: p
            for vid, p in roads.items()
            if vid in self.routes and p.signature == signature(self.routes[vid])
        }
        if self._day_batch is not None:
            self._day_batch = {
                **self._day_batch,
                "routes": overview_payload(list(self.routes.values()), whole_roads(self.roads)),
            }
            self._day_js = to_js(self._day_batch)
        self._route_at = 0.0

    def _apply_alerts(self, alerts: list[Alert]) -> None:
        self.alerts = alerts
        self.feed.set_alerts(alerts)
        self._route_at = 0.0  # flagged / late stops of the selected route

    def _load_failed(self, what: str, exc: Exception) -> None:
        log.warning("map: %s not read: %s", what, exc)
        text = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        self.window.statusBar().showMessage(
            f"Map: could not read the {what} ({text}); showing the last known.",
            self.error_message_ms,
        )

    def _fetch_open_alerts(self) -> list[Alert]:
        """Runs in a worker thread (see :class:`LatestLoad`)."""
        from dispatcher.model.alerts import OPEN_STATUSES, AlertFilter
        from dispatcher.persistence.alert_repo import SqlAlertStore

        with self.core.db.session() as session:
            return SqlAlertStore(session).list_alerts(AlertFilter(statuses=OPEN_STATUSES))

    # -- replay ---------------------------------------------------------------------------
    def show_replay(self, frame: Frame) -> None:
        """Draw ``frame`` (a ``ReplayFrame``) instead of the live fleet.

        One batch per frame; while the page is still busy with the previous one, only the
        newest frame waits (it goes when the page is done), so scrubbing never queues up.
        """
        if not self.replaying:
            self.replaying = True
            self._back_to_live = False
            self.replay_feed.restart()
        self._frame = frame
        self._tick_replay()

    def end_replay(self) -> None:
        """Back to live: the next batch drops the replay and redraws the live state in full."""
        if not self.replaying:
            return
        self.replaying = False
        self._frame = self._last_frame = None
        self._back_to_live = True
        self.feed.resend_all()
        self._sent_route = ""
        self._selection_dirty = True
        self.tick()

    def _tick_replay(self) -> None:
        frame = self._frame
        if frame is None and not self._selection_dirty:
            return
        size = len(frame.positions) if frame is not None else 0
        if not self.view.can_send(size):
            return
        batch: dict[str, Any] = {}
        if frame is not None:
            batch = self.replay_feed.batch(frame)
            self._frame, self._last_frame = None, frame
            if "reset" in batch:
                batch["route"] = None  # the live route's estimates say nothing of the past
                self._sent_route = ""
        if self._selection_dirty:
            batch["sel"] = self.window.selection.current.vehicle_id
            batch["centre"] = self._centre
            self._selection_dirty = False
        self.view.send(batch)

    def _route_batch(self, selection: Selection) -> dict[str, Any] | None:
        vid = selection.vehicle_id
        route = self.routes.get(vid) if vid else None
        if route is None and selection.stop_id is not None:
            route = next(
                (
                    r
                    for r in self.routes.values()
                    if any(s.id == selection.stop_id for s in r.stops)
                ),
                None,
            )
        if route is None:
            return None
        flagged = {int(a.stop_id) for a in self.alerts if a.stop_id and a.stop_id.isdigit()}
        late = {
            int(a.stop_id)
            for a in self.alerts
            if a.stop_id and a.stop_id.isdigit() and a.kind.value == "late"
        }
        road = self.roads.get(route.vehicle_id)
        return route_payload(
            route,
            self.fleet.get(route.vehicle_id),
            self.etas,
            self.window.routes_model.timezone,
            late,
            flagged,
            road.remaining if road is not None else None,
        )

    # -- user actions ---------------------------------------------------------------------
    def fit_fleet(self) -> None:
        self.view.run("DispatcherMap.fitFleet")

    def toggle_follow(self) -> None:
        self.view.run("DispatcherMap.setFollow", True)

    def fit_route(self) -> None:
        route = self.routes.get(self.window.selection.current.vehicle_id or "")
        if route is not None:
            self.view.run("DispatcherMap.fitBounds", bounds((s.lat, s.lon) for s in route.stops))

    def close(self) -> None:
        self.routes_load.close()
        self.alerts_load.close()
        self.depots_load.close()
        self.roads_load.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
