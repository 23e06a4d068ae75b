"""Travel providers: straight lines, speed profile, OSRM with fallback."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from dispatcher.errors import ValidationError
from dispatcher.eta import (
    EuclideanProvider,
    HaversineProvider,
    OsrmProvider,
    SpeedProfile,
    build_matrix,
)

PARIS = (48.8566, 2.3522)
LYON = (45.7640, 4.8357)


def test_haversine_paris_lyon_is_about_392_km_times_circuity():
    tm = build_matrix(HaversineProvider(circuity=1.0, speed_kmh=60), [PARIS, LYON])
    assert tm.distance[0, 1] == pytest.approx(392_000, rel=0.01)
    assert tm.duration[0, 1] == pytest.approx(tm.distance[0, 1] / (60 / 3.6))
    tm13 = build_matrix(HaversineProvider(circuity=1.3), [PARIS, LYON])
    assert tm13.distance[0, 1] == pytest.approx(1.3 * tm.distance[0, 1])


def test_euclidean_is_solomon_distance():
    tm = build_matrix(EuclideanProvider(), [(0, 0), (3, 4)])
    assert tm.distance[0, 1] == 5.0 == tm.duration[1, 0]


def test_speed_profile_is_slower_at_rush_hour_and_wraps_days():
    p = SpeedProfile.urban_rush_hours()
    assert p.factor_at_scalar(8 * 3600) == 1.4
    assert p.factor_at_scalar(12 * 3600) == 1.0
    assert p.factor_at_scalar(86_400 + 8 * 3600) == 1.4
    assert np.array_equal(p.factor_at(np.array([8 * 3600.0, 12 * 3600.0])), [1.4, 1.0])
    assert 1.0 < p.mean_factor(6 * 3600, 10 * 3600) < 1.4


@pytest.mark.parametrize(
    ("bounds", "factors"), [((0.0, 10.0), (1.0,)), ((5.0,), (1.0,)), ((0.0,), (0.0,))]
)
def test_bad_speed_profiles_are_rejected(bounds, factors):
    with pytest.raises(ValidationError):
        SpeedProfile(bounds, factors)


def test_bad_coordinates_are_rejected():
    with pytest.raises(ValidationError):
        build_matrix(HaversineProvider(), [(91.0, 0.0)])
    with pytest.raises(ValidationError):
        build_matrix(EuclideanProvider(), [(math.nan, 0.0)])


def fake_osrm(answer: dict | Exception):
    calls: list[str] = []

    def fetch(url: str, timeout_s: float) -> bytes:
        calls.append(url)
        if isinstance(answer, Exception):
            raise answer
        return json.dumps(answer).encode()

    return fetch, calls


def test_osrm_table_is_used_when_it_answers():
    fetch, calls = fake_osrm(
        {"code": "Ok", "durations": [[0, 100], [110, 0]], "distances": [[0, 900], [950, 0]]}
    )
    tm = build_matrix(OsrmProvider("http://osrm:5000", fetch=fetch), [PARIS, LYON])
    assert tm.source == "osrm"
    assert tm.duration[1, 0] == 110 and tm.distance[0, 1] == 900
    assert "table/v1/driving/2.352200,48.856600;4.835700,45.764000" in calls[0]


def test_osrm_holes_are_filled_from_the_fallback():
    fetch, _ = fake_osrm(
        {"code": "Ok", "durations": [[0, None], [110, 0]], "distances": [[0, None], [950, 0]]}
    )
    tm = build_matrix(OsrmProvider("http://osrm", fetch=fetch), [PARIS, LYON])
    assert tm.distance[0, 1] == pytest.approx(1.3 * 392_000, rel=0.01)


@pytest.mark.parametrize(
    "answer",
    [OSError("connection refused"), {"code": "InvalidQuery", "message": "x"}, {"code": "Ok"}],
)
def test_osrm_failure_degrades_to_straight_lines(answer, caplog):
    fetch, _ = fake_osrm(answer)
    tm = build_matrix(OsrmProvider("http://osrm", fetch=fetch), [PARIS, LYON])
    assert tm.source == "haversine"
    assert "OSRM" in caplog.text


def test_osrm_large_tables_are_fetched_in_blocks():
    n = 5

    def fetch(url: str, timeout_s: float) -> bytes:
        q = dict(p.split("=") for p in url.split("?")[1].split("&"))
        rows, cols = q["sources"].split(";"), q["destinations"].split(";")
        grid = [[float(len(rows) * 10 + len(cols))] * len(cols) for _ in rows]
        return json.dumps({"code": "Ok", "durations": grid, "distances": grid}).encode()

    locs = [(48.0 + i / 100, 2.0) for i in range(n)]
    tm = build_matrix(OsrmProvider("http://osrm", max_locations=4, fetch=fetch), locs)
    assert tm.source == "osrm"
    assert np.all(tm.duration > 0)


def test_a_lazy_haversine_matrix_reads_as_the_full_one() -> None:
    """A fleet's day computes only the legs it reads (PairwiseHaversine); every way the
    evaluator and the optimizer index it gives the full matrix's numbers."""
    rnd = np.random.default_rng(3)
    places = [(52.5 + a, 13.4 + b) for a, b in rnd.uniform(-0.2, 0.2, size=(40, 2))]
    provider = HaversineProvider()
    full, lazy = build_matrix(provider, places), provider.lazy_matrix(places)
    assert lazy.distance.shape == full.distance.shape == (40, 40)
    frm, to = np.array([0, 5, 7, 39]), np.array([5, 7, 39, 0])
    for which in ("distance", "duration"):
        f, z = getattr(full, which), getattr(lazy, which)
        np.testing.assert_allclose(z[frm, to], f[frm, to], rtol=1e-12)
        idx = np.array([3, 1, 30])
        np.testing.assert_allclose(z[np.ix_(idx, idx)], f[np.ix_(idx, idx)], rtol=1e-12)
        assert z[2, 9] == pytest.approx(f[2, 9], rel=1e-12)
        np.testing.assert_allclose(np.asarray(z), f, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValidationError):
        provider.lazy_matrix([(95.0, 0.0)])


def test_a_large_plan_gets_a_lazy_matrix_with_the_same_evaluation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planning_builders import random_plan

    from dispatcher.planning import model
    from dispatcher.planning.evaluate import evaluate_plan
    from dispatcher.planning.model import PlanMatrix
    from dispatcher.routing.warm import WarmRoads

    plan = random_plan(5, n_vehicles=3, n_stops=30)

    def city(p: tuple[float, float]) -> tuple[float, float]:  # the plane into Berlin
        return (52.4 + p[0] / 500, 13.3 + p[1] / 500)

    for sid, stop in plan.stops.items():
        plan.stops[sid] = replace(stop, location=city(stop.location))
    for vid, v in plan.vehicles.items():
        plan.vehicles[vid] = replace(v, start=city(v.start), end=v.end and city(v.end))
    full = PlanMatrix.build(plan, HaversineProvider())
    monkeypatch.setattr(model, "LAZY_ABOVE", 10)
    lazy = PlanMatrix.build(plan, HaversineProvider())
    assert not isinstance(lazy.matrix.distance, np.ndarray)
    # the route desk's provider since road routing (a WarmRoads over straight lines) too:
    # its all-pairs matrix at 500 vehicles took 3 GB and seconds of the GUI thread
    cold = WarmRoads(HaversineProvider(), HaversineProvider(), active=False)
    assert not isinstance(PlanMatrix.build(plan, cold).matrix.distance, np.ndarray)
    a, b = evaluate_plan(full, plan), evaluate_plan(lazy, plan)
    assert b.distance > 0
    assert b.distance == pytest.approx(a.distance, rel=1e-9)
    for vid, route in a.routes.items():
        np.testing.assert_allclose(b.routes[vid].arrival, route.arrival, rtol=1e-9)
