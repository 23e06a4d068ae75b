"""``[eta] profile``: the speeds learned from the history reach every path through the router."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
from fleet_zone import TZ_NAME, utc

from dispatcher.app import build_core
from dispatcher.config import Settings
from dispatcher.errors import ConfigError
from dispatcher.eta.fleet_roads import FleetRoads
from dispatcher.eta.learned import Leg, learn
from dispatcher.eta.settings import EtaSettings
from dispatcher.messaging.service import MessagingService
from dispatcher.routing import RoadProvider, Router

PLACES = [(52.50, 13.40), (52.52, 13.42), (52.51, 13.45)]


def profile_file(tmp_path: Path) -> Path:
    rng = random.Random(1)
    legs = []
    for _ in range(300):
        a = (52.5 + rng.uniform(0, 0.02), 13.4 + rng.uniform(0, 0.02))
        b = (a[0] + 0.003, a[1])
        hour = rng.choice((8, 13))
        legs.append(Leg(a, b, utc(hour, 10), (2.0 if hour == 8 else 1.0) * 47.0))
    path = tmp_path / "eta_profile.json"
    path.write_text(learn(legs, TZ_NAME).to_json(), encoding="utf-8")
    return path


def test_a_configured_profile_reaches_the_composition(sqlite_url: str, tmp_path: Path) -> None:
    eta = {"profile": str(profile_file(tmp_path))}
    core = build_core(Settings(database_url=sqlite_url, sections={"eta": eta}))
    try:
        assert core.routing.learned is not None
        tm = core.routing.provider().matrix(PLACES)
        assert len(tm.profile.factors) == 24
        assert tm.profile.factor_at_scalar(8.5 * 3600) > 1.5 * tm.profile.factor_at_scalar(
            13.5 * 3600
        )
        messaging = core.service(MessagingService)
        assert isinstance(messaging.provider, FleetRoads)
        van = messaging.provider.for_type("van")
        assert isinstance(van, RoadProvider) and van.learned is core.routing.learned
        # the route boards' matrix (the desk's never-blocking provider) too
        warm = core.routing.warm_provider().matrix(PLACES)
        np.testing.assert_allclose(warm.duration, tm.duration)
        assert warm.profile == tm.profile
        # cargo bikes do not sit in traffic
        assert core.routing.provider("cargo_bike").learned is None
        assert core.routing.warm_provider("cargo_bike").matrix(PLACES).profile.is_flat
        assert core.routing.warm_fleet().for_type("cargo_bike").matrix(PLACES).profile.is_flat
    finally:
        core.close()


def test_a_missing_profile_is_a_warning_and_the_fixed_etas(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(sections={"eta": {"profile": str(tmp_path / "nope.json")}})
    with caplog.at_level(logging.WARNING):
        router = Router.from_settings(settings)
    assert router.learned is None
    assert "fixed speed profile" in caplog.text
    plain = Router().provider().matrix(PLACES)
    np.testing.assert_allclose(router.provider().matrix(PLACES).duration, plain.duration)


def test_no_profile_configured_changes_nothing() -> None:
    assert EtaSettings.from_mapping({}).load() is None
    assert Router.from_settings(Settings()).learned is None


@pytest.mark.parametrize("raw", [{"profil": "x"}, {"profile": 3}])
def test_a_wrong_eta_table_is_a_config_error(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"\[eta\]"):
        EtaSettings.from_mapping(raw)


def test_an_engine_takes_the_shape_of_the_learned_speeds_not_their_level(tmp_path: Path) -> None:
    speeds = EtaSettings(str(profile_file(tmp_path))).load()
    assert speeds is not None
    rel = speeds.relative()
    w = np.asarray(speeds.hour_weight)
    assert float(np.dot(w, rel.hourly) / w.sum()) == pytest.approx(1.0)
    assert rel.hourly[8] / rel.hourly[13] == pytest.approx(speeds.hourly[8] / speeds.hourly[13])
