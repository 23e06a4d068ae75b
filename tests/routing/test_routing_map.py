"""Road lines of the day's routes for the map (dispatcher/maps/road_paths.py), real engine."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
from helsinki_roads import KAISANIEMENKATU, KAIVOKATU, POHJOISESPLANADI, YRJONKATU

from dispatcher.eta import haversine_m
from dispatcher.maps.road_paths import RoadPaths, signature
from dispatcher.maps.routes import overview_payload, route_payload
from dispatcher.model.stops import RouteView, StopView
from dispatcher.routing import Dataset, Router, RoutingSettings

PLACES = [KAIVOKATU, YRJONKATU, KAISANIEMENKATU, POHJOISESPLANADI]


def stop(i: int, place: tuple[float, float], status: str = "planned") -> StopView:
    return StopView(
        id=i, order_ref=f"O{i}", service_date=date(2026, 11, 20), sequence=i, kind="delivery",
        status=status, customer_name=f"C{i}", address="", lat=place[0], lon=place[1],
        window_start=None, window_end=None, service_s=300, demand=1, pinned=False,
        planned_arrival=None,
    )  # fmt: skip


def route(*stops: StopView) -> RouteView:
    return RouteView(1, "V1", "Van 1", "Ann", 100, 1, tuple(stops))


def counting(router: Router) -> list[str]:
    asked: list[str] = []
    inner = router._fetch

    def fetch(url: str, timeout_s: float) -> bytes:
        asked.append(url)
        return inner(url, timeout_s)

    router._fetch = fetch
    return asked


def test_route_lines_follow_the_streets_and_are_kept(dataset: Dataset):
    router = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    asked = counting(router)
    roads = RoadPaths(router)
    day = route(*(stop(i, p, "done" if i == 0 else "planned") for i, p in enumerate(PLACES)))
    try:
        paths = roads.for_routes([day])["V1"]
        assert paths.signature == signature(day)
        assert len(paths.whole) > 3 * len(PLACES)  # the streets' bends, not 3 chords
        near = haversine_m(np.array(PLACES), np.array(paths.whole)).min(axis=1)
        assert np.all(near < 30)  # through every stop
        assert haversine_m(np.array([PLACES[1]]), np.array(paths.remaining[:1]))[0, 0] < 30
        assert len(asked) == 2  # the whole day, and what is left of it
        assert roads.for_routes([day])["V1"] == paths
        assert len(asked) == 2  # an unchanged day asks nothing
    finally:
        router.close()
    overview = overview_payload([day], {"V1": paths.whole})
    assert overview == [["V1", "Van 1", paths.whole]]
    payload = route_payload(day, None, {}, ZoneInfo("UTC"), road=paths.remaining)
    assert payload["path"] == paths.remaining


def test_without_an_engine_nothing_is_asked():
    router = Router()
    asked = counting(router)
    day = route(*(stop(i, p) for i, p in enumerate(PLACES)))
    assert RoadPaths(router).for_routes([day]) == {}
    assert asked == []
    straight = overview_payload([day])[0][2]
    assert straight == [[round(a, 6), round(b, 6)] for a, b in PLACES]
