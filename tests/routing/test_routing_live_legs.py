"""A vehicle's live leg on the roads (dispatcher/routing/live_legs.py): the boards' matrix
takes the live position's row from the engine once a thread of its own has fetched it; the
caller never waits, and the row is kept for the position's ~100 m cell."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from helsinki_roads import KAIVOKATU, PLACES, POHJOISESPLANADI

from dispatcher.eta import build_matrix, haversine_m
from dispatcher.eta.travel import TravelMatrix
from dispatcher.routing import Dataset, Router, RoutingSettings
from dispatcher.routing.live_legs import LiveLegRoads

#: A van on Mannerheimintie, between the day's places (not one of them).
LIVE = (60.16905, 24.93962)


@pytest.fixture
def live_router(dataset: Dataset) -> Iterator[tuple[Router, list[str]]]:
    router = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    threads: list[str] = []
    inner = router._fetch

    def fetch(url: str, timeout_s: float) -> bytes:
        threads.append(threading.current_thread().name)
        return inner(url, timeout_s)

    router._fetch = fetch
    yield router, threads
    router.close()


def settled(warm: LiveLegRoads, places: list[tuple[float, float]]) -> TravelMatrix:
    """The matrix once the live row is in (the boards re-evaluate every few seconds)."""
    deadline = time.monotonic() + 10
    while True:
        tm = build_matrix(warm, places)
        straight = warm.fallback.matrix(places)
        if not np.allclose(tm.duration[0, 1:], straight.duration[0, 1:]):
            return tm
        assert time.monotonic() < deadline, "the live row never came"
        time.sleep(0.02)


def test_the_live_leg_takes_the_engines_time(live_router: tuple[Router, list[str]]) -> None:
    router, threads = live_router
    warm = router.warm_provider("van")
    assert isinstance(warm, LiveLegRoads)
    assert warm.warm(PLACES)
    places = [LIVE, *PLACES]
    first = build_matrix(warm, places)
    straight = warm.fallback.matrix(places)
    # At once: the live row is straight, the warmed pairs are the roads; nothing waited for.
    assert first.source == "osrm+straight"
    assert np.array_equal(first.duration[0], straight.duration[0])
    tm = settled(warm, places)
    assert threads == ["MainThread", "live-legs"]  # the test's warming; the row: the worker's
    road = build_matrix(router.provider("van"), places)
    # The live position's leg to each place is the engine's; the rest is as warmed.
    assert np.allclose(tm.duration[0, 1:], road.duration[0, 1:])
    assert np.allclose(tm.distance[0, 1:], road.distance[0, 1:])
    assert np.array_equal(tm.duration[1:, 1:], road.duration[1:, 1:])
    assert tm.duration[1, 0] == straight.duration[1, 0]  # nobody drives to a live position
    # A few metres on, in the same cell: the same row, nothing asked.
    n = len(threads)
    nearby = build_matrix(warm, [(LIVE[0] + 0.0001, LIVE[1] + 0.0001), *PLACES])
    assert np.allclose(nearby.duration[0, 1:], road.duration[0, 1:])
    time.sleep(0.1)
    assert len(threads) == n


def test_a_new_warming_drops_the_live_rows(live_router: tuple[Router, list[str]]) -> None:
    router, _ = live_router
    warm = router.warm_provider("van")
    assert warm.warm(PLACES)
    settled(warm, [LIVE, *PLACES])
    assert warm.warm([KAIVOKATU, POHJOISESPLANADI])  # the next day's places
    again = build_matrix(warm, [LIVE, KAIVOKATU, POHJOISESPLANADI])
    straight = warm.fallback.matrix([LIVE, KAIVOKATU, POHJOISESPLANADI])
    assert np.array_equal(again.duration[0], straight.duration[0])  # asked again, not stale
    assert settled(warm, [LIVE, KAIVOKATU, POHJOISESPLANADI]).source == "osrm+straight"


def test_an_engine_failing_the_live_row_leaves_it_straight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Tables of the day's places answer (roads at 1.3 x the crow's distance); the live
    position's row fails: it stays straight, said once, and nothing breaks."""

    def fetch(url: str, timeout_s: float) -> bytes:
        coords = url.split("/table/v1/")[1].split("/", 1)[1].split("?", maxsplit=1)[0].split(";")
        places = [tuple(float(x) for x in c.split(","))[::-1] for c in coords]
        if places[0] == LIVE:
            raise OSError("connection reset")
        d = haversine_m(np.array(places), np.array(places)) * 1.3
        body = {"code": "Ok", "distances": d.tolist(), "durations": (d / 8.0).tolist()}
        return json.dumps(body).encode()

    router = Router(RoutingSettings(provider="osrm", url="http://osrm.test"), fetch=fetch)
    try:
        warm = router.warm_provider("van")
        assert warm.warm(PLACES)
        places = [LIVE, *PLACES]
        straight = warm.fallback.matrix(places)
        with caplog.at_level(logging.WARNING):
            deadline = time.monotonic() + 10
            while "live legs stay straight" not in caplog.text:
                tm = build_matrix(warm, places)
                assert np.array_equal(tm.duration[0], straight.duration[0])
                assert time.monotonic() < deadline
                time.sleep(0.02)
            tm = build_matrix(warm, places)
        assert tm.source == "osrm+straight"
        assert np.array_equal(tm.duration[0], straight.duration[0])
        assert caplog.text.count("live legs stay straight") == 1
    finally:
        router.close()
