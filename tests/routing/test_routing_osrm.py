"""The router on a real OSRM engine: the Helsinki extract built into a dataset in the run.

Needs OSRM's programs (the osrm-bindings wheel in .osrm-engine, which .ci/setup.sh makes, or
``DISPATCHER_OSRM_ENGINE``): skipped locally without them, a failure in CI.
"""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from helsinki_roads import (
    DEAD_END,
    EXTRACT,
    KAIVOKATU,
    PLACES,
    POHJOISESPLANADI,
    YRJONKATU,
)

from dispatcher.cli import build_parser, run_headless
from dispatcher.config import Settings
from dispatcher.eta import build_matrix, haversine_m
from dispatcher.routing import (
    Dataset,
    OsrmTools,
    Router,
    RoutingEngineError,
    RoutingSettings,
    build_dataset,
)


def test_the_build_makes_one_dataset_per_profile(dataset: Dataset):
    assert sorted(dataset.profiles) == ["bicycle", "car"]
    for base in dataset.profiles.values():
        assert Path(f"{base}.properties").is_file()
        assert Path(f"{base}.mldgr").is_file()  # prepared for multi-level Dijkstra
    assert Dataset.open(dataset.folder).profiles == dataset.profiles


def test_the_van_matrix_is_the_road_network(router: Router):
    tm = build_matrix(router.provider("van"), PLACES)
    assert tm.source == "osrm"
    assert np.all(np.diag(tm.duration) == 0) and np.all(np.diag(tm.distance) == 0)
    off = ~np.eye(len(PLACES), dtype=bool)
    assert np.all(tm.duration[off] > 0)
    straight = haversine_m(np.array(PLACES), np.array(PLACES))
    # Roads are never shorter than the crow flies (bar the snap of each end to its street).
    assert np.all(tm.distance[off] >= straight[off] - 60)
    # ...and one-way streets make it asymmetric, which straight lines never are.
    assert not np.allclose(tm.distance, tm.distance.T)
    # City driving: a leg's average speed is that of streets, not of a motorway.
    speed_kmh = tm.distance[off] / tm.duration[off] * 3.6
    assert np.all((speed_kmh > 5) & (speed_kmh < 60))


def test_a_cargo_bike_rides_the_bicycle_profile(router: Router):
    van = build_matrix(router.provider("van"), PLACES)
    bike = build_matrix(router.provider("cargo_bike"), PLACES)
    assert bike.source == "osrm"
    off = ~np.eye(len(PLACES), dtype=bool)
    assert np.mean(bike.duration[off]) > np.mean(van.duration[off])
    assert not np.allclose(bike.distance, van.distance)  # other streets, both ways on some


def test_the_route_follows_the_streets(router: Router):
    path = router.route([KAIVOKATU, POHJOISESPLANADI], "van")
    assert path.source == "osrm"
    assert len(path.points) > 5  # bends, not one straight segment
    pts = np.array(path.points)
    assert haversine_m(pts[:1], np.array([KAIVOKATU]))[0, 0] < 30
    assert haversine_m(pts[-1:], np.array([POHJOISESPLANADI]))[0, 0] < 30
    drawn = sum(haversine_m(pts[i : i + 1], pts[i + 1 : i + 2])[0, 0] for i in range(len(pts) - 1))
    assert drawn == pytest.approx(path.distance_m, rel=0.03)
    table = build_matrix(router.provider("van"), [KAIVOKATU, POHJOISESPLANADI])
    assert path.distance_m == pytest.approx(table.distance[0, 1], rel=0.01)
    assert path.duration_s == pytest.approx(table.duration[0, 1], rel=0.01)


def test_a_route_through_stops_passes_each(router: Router):
    path = router.route([KAIVOKATU, YRJONKATU, POHJOISESPLANADI], "van")
    pts = np.array(path.points)
    assert haversine_m(np.array([YRJONKATU]), pts).min() < 30


def test_places_the_roads_cannot_leave_are_filled_with_straight_lines(router: Router, caplog):
    with caplog.at_level(logging.WARNING):
        tm = build_matrix(router.provider("van"), [KAIVOKATU, DEAD_END, YRJONKATU])
    assert tm.source == "osrm"
    assert np.all(np.isfinite(tm.duration)) and tm.duration[1, 0] > 0
    assert "unreachable" in caplog.text


def test_close_stops_the_engines(dataset: Dataset):
    r = Router(RoutingSettings(provider="osrm", dataset=str(dataset.folder)))
    build_matrix(r.provider("van"), PLACES[:2])
    children = list(r._children.values())
    assert children and all(c.running for c in children)
    r.close()
    assert not any(c.running for c in children)
    # A closed router answers in straight lines rather than starting an engine again.
    assert r.provider("van").matrix(PLACES[:2]).source == "haversine"


def test_a_missing_profile_routes_on_straight_lines(dataset: Dataset, caplog):
    settings = RoutingSettings(
        provider="osrm", dataset=str(dataset.folder), profiles={"van": "foot"}
    )
    r = Router(settings)
    try:
        with caplog.at_level(logging.WARNING):
            tm = r.provider("van").matrix(PLACES)
            path = r.route(PLACES[:2])
    finally:
        r.close()
    assert tm.source == "haversine" and path.source == "straight"
    assert "no 'foot' profile" in caplog.text


def test_roads_build_command(tools: OsrmTools, tmp_path: Path):
    out = StringIO()
    args = build_parser().parse_args(
        ["roads", "build", str(EXTRACT), "--out", str(tmp_path / "hel"), "--profile", "car"]
    )
    assert run_headless(args, Settings(), out) == 0
    assert f'dataset = "{tmp_path / "hel"}"' in out.getvalue()
    assert list(Dataset.open(tmp_path / "hel").profiles) == ["car"]


def test_roads_build_refuses_what_is_not_an_extract(tools: OsrmTools, tmp_path: Path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(Exception, match="not an OpenStreetMap extract"):
        build_dataset(bad, tmp_path / "out", ["car"], tools)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\0garbage")
    with pytest.raises(RoutingEngineError, match="osrm-extract failed"):
        build_dataset(broken, tmp_path / "out", ["car"], tools)
    assert not (tmp_path / "out" / "car").exists()
    assert not (tmp_path / "out" / ".car.building").exists()
