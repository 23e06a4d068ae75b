"""The core as one object: what the console and the headless recorder are built from.

``main.py`` builds a :class:`Core` from :class:`~dispatcher.config.Settings`; the UI holds a
reference and adapts it, ``dispatcher serve`` runs it without a window. Later capabilities
(telemetry ingest, alert rules, outbox relay) hang off it so both front ends get them alike;
:func:`dispatcher.app.build_core` is the one place that adds them. ``Core(settings)`` alone is
a bare core with no services (what tests of one room build).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from dispatcher import display
from dispatcher.clock import Clock, SystemClock
from dispatcher.config import Settings, pool_options
from dispatcher.events import EventBus
from dispatcher.fleet_settings import FleetSettings
from dispatcher.history.settings import HistorySettings
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.geocode_repo import database_geocoder
from dispatcher.routing import Router, day_places
from dispatcher.scenario.demo import DEFAULT_STOPS, DEFAULT_VEHICLES, demo_scenario
from dispatcher.services import Service, ServiceMissing
from dispatcher.site import Role, SiteRole

if TYPE_CHECKING:
    from dispatcher.geocoding import Geocoder
    from dispatcher.live import LiveTelemetry
    from dispatcher.model.users import User
    from dispatcher.scenario.records import Scenario
    from dispatcher.telemetry.sharing import RecorderSettings

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class DayRead:
    """One day as the route boards show it: the day, its routes, the fleet's vehicles."""

    day: date
    routes: list[RouteView]
    vehicles: list[fleet_repo.VehicleView]


class Core:
    """Settings, clock, event bus, the opened database and the services ticking on it."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, role: Role = "console"
    ) -> None:
        self.settings = settings
        #: Recorder or console, and whether this process writes for the site (dispatcher/site.py).
        self.site = SiteRole.from_sections(settings.sections, role)
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()
        #: Thinning and retention of position history (the ``[history]`` config table);
        #: read before the database opens, so a bad value leaves nothing open behind it.
        self.history_settings = HistorySettings.from_settings(settings)
        #: The fleet's zone, locale and units (``[fleet]``): every time shown, parsed, planned.
        self.fleet = FleetSettings.from_settings(settings)
        #: ... and how every text of this process writes distances, speeds, times and dates.
        self.display = display.install(self.fleet)
        #: The road engine (``[routing]``, docs/routing.md) with the speeds learned from the
        #: history (``[eta]``, docs/eta.md): every travel time and road path of this process
        #: asks it; building it starts nothing (a child engine starts on the first matrix, off
        #: the GUI thread).
        self.routing = Router.from_settings(settings)
        self.db = Database(settings.database_url, pool=pool_options(settings, role))
        self.live: LiveTelemetry | None = None
        self.services: list[Service] = []
        #: Services the composition could not start, by name, with the reason (the window
        #: shows it where that service would have worked; dispatcher/app.py).
        self.not_started: dict[str, str] = {}
        #: Called first by :meth:`close`, while the database is still open: a front end waits
        #: here for its background jobs, so none holds a connection the dispose would orphan.
        self.before_close: list[Callable[[], object]] = []

    def add_service(self, service: Service) -> Service:
        """Run ``service`` on every :meth:`tick`; it is stopped by :meth:`close`."""
        self.services.append(service)
        return service

    def find_service(self, kind: type[S]) -> S | None:
        """The service of type ``kind``, or None when this core was built without one."""
        return next((s for s in self.services if isinstance(s, kind)), None)

    def service(self, kind: type[S]) -> S:
        """The service of type ``kind``; :class:`ServiceMissing` when the core has none.

        Never builds one: services are added where the core is composed
        (:func:`dispatcher.app.build_core`), so a missing one is a wiring mistake to name.
        """
        found = self.find_service(kind)
        if found is None:
            why = self.not_started.get(getattr(kind, "name", ""), "")
            raise ServiceMissing(
                f"no {getattr(kind, 'name', kind.__name__)} service"
                + (f": {why}" if why else " (this core was built without it)")
            )
        return found

    def tick(self) -> None:
        """Apply live telemetry, then let each service do what is due (GUI timer or serve)."""
        if self.live is not None:
            self.live.tick()
        for service in self.services:
            try:
                service.tick()
            except Exception:
                log.exception("service %s failed on tick", service.name)

    def start_live(
        self,
        *,
        embedded_broker: bool = False,
        simulate_seed: int | None = None,
        role: Role | None = None,
        recorder: RecorderSettings | None = None,
    ) -> LiveTelemetry:
        """Connect to the broker (or start one) and, for the demo, drive the simulated fleet.

        ``role`` (default: the core's) names the MQTT session
        (:func:`~dispatcher.live.client_identity`): the recorder keeps one persistent session
        across restarts (the QoS 1 events queued for it); each console instance gets an id
        of its own, so two consoles under one account never kick each other off the broker.
        A console that does not record
        (``[console] recorder = "external"``) stores nothing. ``recorder`` (a serve's
        ``[recorder]`` table) names its instance and the group it shares ingest with.
        """
        from dispatcher.live import LiveTelemetry, client_identity

        if role is not None and role != self.site.role:
            self.site = SiteRole(role, self.site.recorder)
        recorder = recorder if self.site.role == "serve" else None
        ident = client_identity(self.site.role, recorder.instance if recorder else "")
        self.live = LiveTelemetry(
            self.settings,
            self.db,
            self.bus,
            self.clock,
            console_id=ident.console_id,
            persistent=ident.persistent,
            record=self.site.records,
            share_group=recorder.shared_group if recorder else "",
        )
        self.live.start(
            embedded_broker=embedded_broker,
            broker_user="recorder" if role == "serve" else "console",
        )
        if simulate_seed is not None:
            self.live.start_simulator(simulate_seed, self.routing)
        return self.live

    @cached_property
    def user(self) -> User:
        """Who is at this desk: the OS login mapped to a ``users`` row (docs/fleet-setup.md).

        Writes name this user as actor; the core re-reads its role in each writing transaction.
        """
        from dispatcher.users.desk import UserDesk

        return UserDesk(self.db).login()

    def today(self) -> date:
        """The fleet's calendar day on the core's clock (the demo clock is not the wall's)."""
        return self.fleet.today(self.clock.now())

    def default_day(self) -> date:
        """The day to open on: today if it has stops, else the latest day that has some."""
        with self.db.session() as session:
            return fleet_repo.day_to_show(session, self.today())

    def load_routes(self, day: date | None = None) -> list[RouteView]:
        """The routes of ``day`` (default :meth:`default_day`), unassigned pool last."""
        with self.db.session() as session:
            return fleet_repo.load_routes(
                session, day or fleet_repo.day_to_show(session, self.today())
            )

    def read_day(self, day: date | None = None) -> DayRead:
        """A day's routes and the vehicles, read in one session (the boards' reload, off the
        GUI thread); ``day`` None is :meth:`default_day`. With a road engine it also warms
        the route desk's road times for the day's places (dispatcher/routing/warm.py)."""
        with self.db.session() as session:
            shown = day or fleet_repo.day_to_show(session, self.today())
            routes = fleet_repo.load_routes(session, shown)
            read = DayRead(shown, routes, fleet_repo.load_vehicles(session))
        places = day_places(read.routes, read.vehicles)
        self.routing.warm_fleet().warm(places, [v.vehicle_type for v in read.vehicles])
        return read

    def geocoder(self) -> Geocoder:
        """The configured geocoder, with this database's cache (forms and imports place with it).

        Only builds it: the look-ups it makes are the caller's, off the GUI thread.
        """
        return database_geocoder(self.settings, self.db)

    def vehicle_names(self) -> dict[str, str]:
        with self.db.session() as session:
            return {v.id: v.name for v in fleet_repo.load_vehicles(session)}

    def store_scenario(self, scenario: Scenario) -> None:
        """Store a whole day in one transaction (the screenshot scripts' fixed demo day)."""
        with self.db.session() as session:
            fleet_repo.save_scenario(session, scenario)

    def seed_demo_if_empty(
        self, seed: int = 7, *, vehicles: int = DEFAULT_VEHICLES, stops: int = DEFAULT_STOPS
    ) -> bool:
        """Fill an empty database with the demo day (``dispatcher demo --vehicles --stops``
        sizes it); returns whether it did."""
        with self.db.session() as session:
            if fleet_repo.count_stops(session):
                return False
            # The clock's day in the fleet's zone (the demo clock may not be the wall's).
            day = self.fleet.today(self.clock.now())
            scenario = demo_scenario(
                day, seed=seed, n_orders=stops, n_vehicles=vehicles, timezone=self.fleet.timezone
            )
            fleet_repo.save_scenario(session, scenario)
        return True

    def close(self) -> None:
        for hook in self.before_close:
            try:
                hook()
            except Exception:
                log.exception("close hook %r failed", hook)
        self.before_close.clear()
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("service %s failed to stop", service.name)
        self.services.clear()
        if self.live is not None:
            self.live.stop()
            self.live = None
        self.routing.close()
        self.db.dispose()
