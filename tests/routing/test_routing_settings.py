"""``[routing]`` parsing, the router without an engine, and OSRM's route answer format."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dispatcher.config import Settings
from dispatcher.errors import ConfigError
from dispatcher.eta import OsrmProvider
from dispatcher.routing import OsrmTools, Router, RoutingEngineError, RoutingSettings

A, B, C = (60.1699, 24.9384), (60.1710, 24.9458), (60.1680, 24.9500)

#: Abridged from a real osrm-routed 26.10 answer on the Helsinki extract.
ROUTE_ANSWER = {
    "code": "Ok",
    "routes": [
        {
            "geometry": {
                "type": "LineString",
                "coordinates": [[24.938396, 60.169902], [24.9421, 60.1703], [24.945949, 60.170879]],
            },
            "legs": [
                {"steps": [], "summary": "", "weight": 280, "duration": 280, "distance": 972.1}
            ],
            "weight_name": "routability",
            "weight": 280,
            "duration": 280,
            "distance": 972.1,
        }
    ],
    "waypoints": [
        {"hint": "x", "distance": 0.3, "name": "Kaivokatu", "location": [24.938396, 60.169902]},
        {
            "hint": "y",
            "distance": 15.8,
            "name": "Kaisaniemenkatu",
            "location": [24.945949, 60.170879],
        },
    ],
}


def fetcher(answer: dict | Exception):
    calls: list[str] = []

    def fetch(url: str, timeout_s: float) -> bytes:
        calls.append(url)
        if isinstance(answer, Exception):
            raise answer
        return json.dumps(answer).encode()

    return fetch, calls


def test_defaults_are_straight_lines_with_a_profile_per_vehicle_type():
    s = RoutingSettings.from_settings(Settings())
    assert s.provider == "haversine"
    assert s.profile_for("van") == "car"
    assert s.profile_for("Cargo_Bike") == "bicycle"
    # The fleet setup's built-in types (docs/fleet-setup.md): a "bike" is no van.
    assert [s.profile_for(t) for t in ("bike", "truck", "ev")] == ["bicycle", "car", "car"]
    assert s.profile_for("tractor") == "car"  # unknown types route as vans
    assert s.profile_for(None) == "car"


def test_a_section_is_read_and_profiles_overridden():
    raw = {
        "provider": "OSRM",
        "url": "http://osrm:5000",
        "timeout_s": 2,
        "profiles": {"van": "driving", "Scooter": "bicycle"},
    }
    s = RoutingSettings.from_settings(Settings(sections={"routing": raw}))
    assert (s.provider, s.url, s.timeout_s) == ("osrm", "http://osrm:5000", 2.0)
    assert s.profile_for("van") == "driving" and s.profile_for("scooter") == "bicycle"
    assert s.profile_for("cargo_bike") == "bicycle"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"provider": "google"}, "provider must be one of"),
        ({"provider": "osrm"}, "exactly one of url or dataset"),
        ({"provider": "osrm", "url": "http://a", "dataset": "/d"}, "exactly one of"),
        ({"provider": "osrm", "url": "osrm:5000"}, "must start with http"),
        ({"timeout_s": "5"}, "number of seconds"),
        ({"timeout_s": 0}, "must be positive"),
        ({"profiles": "car"}, "must be a table"),
        ({"profiles": {"van": ""}}, "van must name"),
        ({"provder": "osrm"}, "unknown key"),
        ({"url": 5}, "url must be text"),
    ],
)
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        RoutingSettings.from_mapping(raw)


def test_the_default_router_is_straight_lines():
    router = Router()
    assert router.source == "haversine"
    assert router.provider("van").matrix([A, B]).source == "haversine"
    path = router.route([A, B, C])
    assert path.source == "straight" and path.points == (A, B, C)
    assert path.distance_m > 0 and path.duration_s > 0
    bike = router.provider("cargo_bike").matrix([A, B])
    assert bike.duration[0, 1] > router.provider("van").matrix([A, B]).duration[0, 1]


def test_a_server_url_is_asked_with_the_vehicle_types_profile():
    fetch, calls = fetcher(
        {"code": "Ok", "durations": [[0, 100], [110, 0]], "distances": [[0, 900], [950, 0]]}
    )
    router = Router(RoutingSettings(provider="osrm", url="http://osrm:5000/"), fetch=fetch)
    tm = router.provider("cargo_bike").matrix([A, B])
    assert tm.source == "osrm" and tm.duration[1, 0] == 110
    assert calls[0].startswith("http://osrm:5000/table/v1/bicycle/24.938400,60.169900;")
    assert router.source == "osrm http://osrm:5000/"


def test_the_route_service_gives_the_road_geometry():
    fetch, calls = fetcher(ROUTE_ANSWER)
    path = OsrmProvider("http://osrm", fetch=fetch).route([A, B])
    assert path.source == "osrm"
    assert path.points == ((60.169902, 24.938396), (60.1703, 24.9421), (60.170879, 24.945949))
    assert (path.distance_m, path.duration_s) == (972.1, 280.0)
    assert "/route/v1/driving/24.938400,60.169900;24.945800,60.171000?" in calls[0]
    assert "geometries=geojson" in calls[0] and "overview=full" in calls[0]


@pytest.mark.parametrize(
    "answer",
    [
        OSError("connection refused"),
        {"code": "NoRoute", "message": "Impossible route between points"},
        {"code": "Ok", "routes": []},
        {"code": "Ok", "routes": [{"geometry": {"coordinates": [[1, 2]]}, "distance": 1}]},
    ],
)
def test_a_failed_route_is_drawn_straight(answer, caplog):
    fetch, _ = fetcher(answer)
    with caplog.at_level(logging.WARNING):
        path = OsrmProvider("http://osrm", fetch=fetch).route([A, B])
    assert path.source == "straight" and path.points == (A, B)
    assert "OSRM route failed" in caplog.text


def test_one_place_is_no_route():
    fetch, calls = fetcher(ROUTE_ANSWER)
    assert OsrmProvider("http://osrm", fetch=fetch).route([A]).points == (A,)
    assert calls == []


def test_a_dataset_that_is_not_one_routes_straight(tmp_path: Path, caplog):
    settings = RoutingSettings(provider="osrm", dataset=str(tmp_path), engine=str(tmp_path))
    router = Router(settings)
    with caplog.at_level(logging.WARNING):
        assert router.provider().matrix([A, B]).source == "haversine"
        assert router.provider().matrix([A, C]).source == "haversine"
    assert caplog.text.count("cannot start") == 1  # said once, not at every matrix
    router.close()


def test_engine_search_says_what_to_install(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RoutingEngineError, match="does not hold OSRM's programs"):
        OsrmTools.find(str(tmp_path))
    fake = tmp_path / "osrm" / "bin"
    fake.mkdir(parents=True)
    for name in ("osrm-extract", "osrm-partition", "osrm-customize", "osrm-routed"):
        (fake / name).write_text("")
    (tmp_path / "osrm" / "share" / "profiles").mkdir(parents=True)
    (tmp_path / "osrm" / "share" / "profiles" / "car.lua").write_text("")
    tools = OsrmTools.find(env={"DISPATCHER_OSRM_ENGINE": str(fake)})
    assert tools.bin_dir == fake
    assert tools.profile("car").name == "car.lua"
    with pytest.raises(ConfigError, match="no OSRM profile 'bicycle'"):
        tools.profile("bicycle")
