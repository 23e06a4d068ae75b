"""The core as one object: what the console and the headless recorder are built from.

``main.py`` builds a :class:`Core` from :class:`~dispatcher.config.Settings`; the UI holds a
reference and adapts it, ``dispatcher serve`` runs it without a window. Later capabilities
(telemetry ingest, alert rules, outbox relay) hang off it so both front ends get them alike.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from dispatcher.clock import Clock, SystemClock
from dispatcher.config import Settings, pool_options
from dispatcher.events import EventBus
from dispatcher.fleet_settings import FleetSettings
from dispatcher.history.retention import RetentionService
from dispatcher.history.settings import HistorySettings
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import DEFAULT_STOPS, DEFAULT_VEHICLES, demo_scenario
from dispatcher.services import Service
from dispatcher.site import Role, SiteRole

if TYPE_CHECKING:
    from dispatcher.live import LiveTelemetry
    from dispatcher.telemetry.sharing import RecorderSettings
    from dispatcher.users.model import User

log = logging.getLogger(__name__)


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
        self.db = Database(settings.database_url, pool=pool_options(settings, role))
        self.live: LiveTelemetry | None = None
        self.services: list[Service] = []
        if self.site.records:  # a console next to a recorder never prunes (the recorder does)
            self.add_service(RetentionService(self.db, self.clock, self.history_settings))

    def add_service(self, service: Service) -> Service:
        """Run ``service`` on every :meth:`tick`; it is stopped by :meth:`close`."""
        self.services.append(service)
        return service

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
            self.live.start_simulator(simulate_seed)
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

    def load_routes(self, day: date | None = None) -> list[fleet_repo.RouteView]:
        """The routes of ``day`` (default :meth:`default_day`), unassigned pool last."""
        with self.db.session() as session:
            return fleet_repo.load_routes(
                session, day or fleet_repo.day_to_show(session, self.today())
            )

    def vehicle_names(self) -> dict[str, str]:
        with self.db.session() as session:
            return {v.id: v.name for v in fleet_repo.load_vehicles(session)}

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
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("service %s failed to stop", service.name)
        self.services.clear()
        if self.live is not None:
            self.live.stop()
            self.live = None
        self.db.dispose()
