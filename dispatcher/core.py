"""The core as one object: what the console and the headless recorder are built from.

``main.py`` builds a :class:`Core` from :class:`~dispatcher.config.Settings`; the UI holds a
reference and adapts it, ``dispatcher serve`` runs it without a window. Later capabilities
(telemetry ingest, alert rules, outbox relay) hang off it so both front ends get them alike.
"""

from __future__ import annotations

from datetime import date

from dispatcher.clock import Clock, SystemClock
from dispatcher.config import Settings
from dispatcher.events import EventBus
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario


class Core:
    """Settings, clock, event bus and the opened database."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()
        self.db = Database(settings.database_url)

    def load_routes(self, day: date | None = None) -> list[fleet_repo.RouteView]:
        with self.db.session() as session:
            return fleet_repo.load_routes(session, day)

    def seed_demo_if_empty(self, seed: int = 7) -> bool:
        """Fill an empty database with the demo day; returns whether it did."""
        with self.db.session() as session:
            if fleet_repo.count_stops(session):
                return False
            fleet_repo.save_scenario(session, demo_scenario(seed=seed))
        return True

    def close(self) -> None:
        self.db.dispose()
