"""Every path asks the core's router: its start and close, and a live ETA on real roads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import local
from helsinki_roads import KAIVOKATU, PLACES, POHJOISESPLANADI

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import ConfigError
from dispatcher.eta import build_matrix
from dispatcher.planning.live_eta import LiveVehicle, arrivals, predict_route
from dispatcher.planning.model import PlanStop
from dispatcher.routing import Dataset, Router


def test_a_live_eta_drives_the_roads(router: Router):
    origin, now = local(0), local(10)  # 10:00, no rush-hour factor
    van = LiveVehicle("V1", 100, local(8), local(17), KAIVOKATU, KAIVOKATU)
    stops = [PlanStop("a", POHJOISESPLANADI)]
    eta = arrivals(predict_route(van, stops, now, origin, router.provider("van")), origin)["a"]
    road = build_matrix(router.provider("van"), [KAIVOKATU, POHJOISESPLANADI])
    assert eta - now == pytest.approx(
        timedelta(seconds=road.duration[0, 1]), abs=timedelta(seconds=2)
    )


def test_the_core_routes_as_configured_and_stops_its_engine(dataset: Dataset, tmp_path: Path):
    routing = {"provider": "osrm", "dataset": str(dataset.folder)}
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.sqlite3", sections={"routing": routing}
    )
    core = Core(settings)
    try:
        assert core.routing.source == f"osrm dataset {dataset.folder}"
        assert core.routing.provider("cargo_bike").matrix(PLACES).source == "osrm"
        children = list(core.routing._children.values())
    finally:
        core.close()
    assert children and not any(c.running for c in children)


def test_a_bad_routing_section_stops_the_core_at_start(tmp_path: Path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.sqlite3", sections={"routing": {"provider": "tomtom"}}
    )
    with pytest.raises(ConfigError, match=r"\[routing\] provider"):
        Core(settings)


def test_a_core_without_routing_is_straight_lines(tmp_path: Path):
    core = Core(Settings(database_url=f"sqlite:///{tmp_path}/t.sqlite3"))
    try:
        assert core.routing.source == "haversine"
        assert core.routing.provider().matrix(PLACES).source == "haversine"
    finally:
        core.close()
