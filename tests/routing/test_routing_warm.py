"""The route desk's road times (dispatcher/routing/warm.py): warmed in a worker, never waited on."""

from __future__ import annotations

import threading

import numpy as np
from helsinki_roads import DEAD_END, PLACES

from dispatcher.eta import build_matrix
from dispatcher.routing import Dataset, Router, RoutingSettings


def counting(router: Router, threads: list[str] | None = None) -> list[str]:
    asked: list[str] = []
    inner = router._fetch

    def fetch(url: str, timeout_s: float) -> bytes:
        asked.append(url)
        if threads is not None:
            threads.append(threading.current_thread().name)
        return inner(url, timeout_s)

    router._fetch = fetch
    return asked


def test_warmed_pairs_are_the_roads_and_the_rest_straight(dataset: Dataset):
    router = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    try:
        threads: list[str] = []
        asked = counting(router, threads)
        warm = router.warm_provider("van")
        assert router.warm_provider("van") is warm  # the worker warms what the desk asks
        assert warm.matrix(PLACES).source == "haversine" and asked == []  # cold: straight
        assert warm.warm(PLACES) and len(asked) == 1
        road = build_matrix(router.provider("van"), PLACES)
        warmed = build_matrix(warm, PLACES)
        assert warmed.source == "osrm"
        assert np.array_equal(warmed.duration, road.duration)
        assert warmed.profile == road.profile
        n = len(asked)
        mixed = build_matrix(warm, [PLACES[0], DEAD_END, PLACES[1]])  # a live position
        # never asks the engine on the caller's thread (the live leg's row: on its own)
        assert threading.current_thread().name not in threads[n:]
        assert mixed.source == "osrm+straight"
        assert mixed.duration[0, 2] == road.duration[0, 1]
        assert mixed.duration[1, 0] > 0
    finally:
        router.close()


def test_an_engine_that_does_not_answer_leaves_straight_lines(tmp_path):
    router = Router(RoutingSettings(provider="osrm", dataset=str(tmp_path)))
    warm = router.warm_provider()
    assert not warm.warm(PLACES)
    assert warm.matrix(PLACES).source == "haversine"
    router.close()


def test_straight_line_routing_warms_nothing():
    router = Router()
    asked = counting(router)
    warm = router.warm_provider()
    assert not warm.warm(PLACES) and asked == []
    assert warm.matrix(PLACES).source == "haversine"
