"""The paths that need travel times ask the provider they are given: the core's router.

The route desk and ``dispatcher plan`` build their matrix with it, and the composition
(:func:`dispatcher.app.build_core`) hands the router's provider to the alert facts and the
messaging service (and the router itself to the deviation rule's road paths). SQLite and
PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import pytest
from fleet_zone import DAY, TZ, TZ_NAME, demo_day, utc

from dispatcher.alerts.runner import AlertRunner
from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.eta import HaversineProvider, Location, TravelMatrix
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.events import EventBus
from dispatcher.messaging.service import MessagingService
from dispatcher.model.stops import RouteView
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.planning.desk import RouteDesk
from dispatcher.planning.plan_day import plan_day
from dispatcher.routing import RoadProvider
from dispatcher.routing.road_lines import RoadLines
from dispatcher.users.desk import UserDesk

ACTOR = "ann"


class Spy:
    """Straight lines, marked ``spy`` and counted: which path asked, and how often."""

    def __init__(self) -> None:
        self.calls = 0

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        self.calls += 1
        tm = HaversineProvider().matrix(locations)
        return TravelMatrix(tm.distance, tm.duration, tm.profile, "spy")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    with database.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    UserDesk(database).login(ACTOR)
    yield database
    database.dispose()


def test_the_route_desk_plans_with_its_provider(db: Database) -> None:
    def load(day: date | None) -> list[RouteView]:
        with db.session() as session:
            return fleet_repo.load_routes(session, day or DAY)

    spy = Spy()
    desk = RouteDesk(
        db, FakeClock(utc(7)), EventBus(), TZ, load_routes=load, actor=lambda: ACTOR, provider=spy
    )
    assert desk.load(day=DAY)
    assert desk.pm is not None and desk.pm.matrix.source == "spy" and spy.calls >= 1


def test_plan_day_builds_its_matrix_with_the_provider(db: Database) -> None:
    spy = Spy()
    actor = UserDesk(db).login(ACTOR).id
    plan_day(db, DAY, TZ_NAME, time_limit_s=0.5, actor=actor, provider=spy)
    assert spy.calls == 1


def test_the_composition_hands_the_router_to_alerts_and_messages(sqlite_url: str) -> None:
    routing = {"provider": "osrm", "url": "http://127.0.0.1:9"}
    core = build_core(Settings(database_url=sqlite_url, sections={"routing": routing}))
    try:
        messaging = core.service(MessagingService)
        assert isinstance(messaging.provider, FleetRoads)  # each vehicle its type's roads
        van, bike = messaging.provider.for_type("van"), messaging.provider.for_type("cargo_bike")
        assert isinstance(van, RoadProvider) and van.router is core.routing
        assert van == core.routing.provider("van") and bike == core.routing.provider("cargo_bike")
        facts = core.service(AlertRunner)._facts
        provider = getattr(facts, "_provider", None)
        assert isinstance(provider, FleetRoads) and provider.for_type(None) == van
        roads = getattr(facts, "_roads", None)  # the deviation rule's road paths
        assert isinstance(roads, RoadLines) and roads.router is core.routing and roads.enabled
    finally:
        core.close()
