"""The deviation rule's road paths without an engine: a scripted server, counted.

:class:`~dispatcher.routing.road_lines.RoadLines` keeps a road path per profile and places
(an unchanged route asks nothing twice), never keeps a failure, and the rule pass stops
asking a dead engine after its first failure (one timeout per pass, not one per van).
Scenario: alerts_day (two vans, each with a path depot -> stops -> depot). SQLite and
PostgreSQL (``db_url``) for the facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from alerts_day import NEAR, T_UTC, store_day

from dispatcher.alerts.live_facts import LiveFacts
from dispatcher.fleet.state import FleetState
from dispatcher.model.core import PositionReport
from dispatcher.persistence.database import Database
from dispatcher.routing import Router, RoutingSettings
from dispatcher.routing.road_lines import RoadLines

BEND = 0.01
"""The scripted road bends this far north (degrees) halfway between each pair of places."""


class Server:
    """An OSRM route service that bends every leg north; ``dead`` refuses connections."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.dead = False

    def fetch(self, url: str, timeout_s: float) -> bytes:
        self.asked.append(url)
        if self.dead:
            raise OSError("connection refused")
        coords = url.split("?", maxsplit=1)[0].rsplit("/", maxsplit=1)[1].split(";")
        places = [(float(x), float(y)) for x, y in (c.split(",") for c in coords)]
        line: list[tuple[float, float]] = []
        for (lon1, lat1), (lon2, lat2) in pairwise(places):
            line += [(lon1, lat1), ((lon1 + lon2) / 2, (lat1 + lat2) / 2 + BEND)]
        line.append(places[-1])
        route = {"geometry": {"coordinates": line}, "distance": 1000.0, "duration": 100.0}
        return json.dumps({"code": "Ok", "routes": [route]}).encode()


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def router(server: Server) -> Iterator[Router]:
    r = Router(RoutingSettings(provider="osrm", url="http://roads.test"), fetch=server.fetch)
    yield r
    r.close()


A, B = (52.47, 13.39), (52.48, 13.40)


def test_a_kept_path_is_not_asked_again_per_profile(server: Server, router: Router) -> None:
    lines = RoadLines(router)
    first = lines.path([A, B], "van")
    assert first.source == "osrm" and len(first.points) == 3
    assert lines.path([A, B], "van") is first and lines.path([A, B], None) is first
    assert len(server.asked) == 1, "an unchanged route asks nothing"
    bike = lines.path([A, B], "cargo_bike")
    assert "/route/v1/bicycle/" in server.asked[-1] and "/route/v1/car/" in server.asked[0]
    assert bike is not first and len(server.asked) == 2, "the key holds the profile"
    assert lines.cached([B, A], "van") is None


def test_a_failure_is_not_kept(server: Server, router: Router) -> None:
    lines = RoadLines(router)
    server.dead = True
    assert lines.path([A, B]).source == "straight" and len(lines) == 0
    server.dead = False
    assert lines.path([A, B]).source == "osrm" and len(server.asked) == 2, "asked again"


def test_the_least_recently_used_path_goes_first(server: Server, router: Router) -> None:
    lines = RoadLines(router, limit=2)
    c = (52.49, 13.41)
    lines.path([A, B])
    lines.path([B, c])
    lines.path([A, B])  # used again: now the newest
    lines.path([c, A])
    assert len(lines) == 2 and lines.cached([B, c]) is None and lines.cached([A, B]) is not None


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    store_day(database)
    yield database
    database.dispose()


@pytest.fixture
def fleet() -> FleetState:
    state = FleetState()
    for vid in ("V1", "V2"):
        fix = PositionReport(vid, T_UTC, NEAR[0] - 0.004, NEAR[1] - 0.004, speed_kmh=25.0)
        state.apply_position(fix, T_UTC)
    return state


def test_the_rules_measure_against_the_kept_road_path(
    db: Database, fleet: FleetState, server: Server, router: Router
) -> None:
    facts = LiveFacts(db, fleet, router=router)
    first = facts.capture(T_UTC)().snapshot
    assert len(server.asked) == 2, "one path per van"
    for v in first.vehicles:
        assert max(lat for lat, _ in v.planned_path) > NEAR[0] + BEND / 2, "the road's bend"
    again = facts.capture(T_UTC + timedelta(seconds=30))().snapshot
    assert len(server.asked) == 2, "unchanged routes ask nothing"
    assert [v.planned_path for v in again.vehicles] == [v.planned_path for v in first.vehicles]


def test_a_dead_engine_costs_one_request_per_pass_and_is_asked_again(
    db: Database, fleet: FleetState, server: Server, router: Router
) -> None:
    straight = LiveFacts(db, fleet).capture(T_UTC)().snapshot
    server.dead = True
    facts = LiveFacts(db, fleet, router=router)
    first = facts.capture(T_UTC)().snapshot
    assert len(server.asked) == 1, "the pass stops asking after the first failure"
    assert [v.planned_path for v in first.vehicles] == [
        v.planned_path for v in straight.vehicles
    ], "straight lines for this pass"
    facts.capture(T_UTC + timedelta(seconds=30))()
    assert len(server.asked) == 2, "not kept: the next pass asks again"
    server.dead = False
    facts.capture(T_UTC + timedelta(seconds=60))()
    assert len(server.asked) == 4, "back: both vans' paths"
