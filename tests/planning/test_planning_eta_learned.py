"""Speed factors learned from the position history (dispatcher/eta/learned.py)."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fleet_zone import DAY, TZ, TZ_NAME, local, utc

from dispatcher.errors import ValidationError
from dispatcher.eta.learned import (
    LearnedProvider,
    LearnedSpeeds,
    Leg,
    learn,
    legs_from_track,
)
from dispatcher.eta.travel import HaversineProvider, SpeedProfile
from dispatcher.planning.live_eta import LiveVehicle, arrivals, predict_route
from dispatcher.planning.model import PlanStop

SPEED, CIRCUITY = 30.0, 1.3
SLOW = (52.51, 13.41)  # inside the slow cell (0.02° grid)
FAST = (52.57, 13.49)


def free_s(a: tuple[float, float], b: tuple[float, float]) -> float:
    tm = HaversineProvider(SPEED, CIRCUITY).matrix([a, b])
    return float(tm.duration[0, 1])


def leg_near(
    rng: random.Random, centre: tuple[float, float], hour: int, factor: float, noise: float = 0.0
) -> Leg:
    a = (centre[0] + rng.uniform(-0.003, 0.003), centre[1] + rng.uniform(-0.003, 0.003))
    b = (a[0] + rng.uniform(0.002, 0.004), a[1] + rng.uniform(-0.002, 0.002))
    b = (min(b[0], centre[0] + 0.0049), b[1])
    dur = free_s(a, b) * factor * math.exp(rng.gauss(0, noise))
    return Leg(a, b, utc(hour, rng.randint(0, 59)), dur)


def truth(hour: int, place: tuple[float, float]) -> float:
    return (1.6 if hour == 8 else 1.0) * (1.5 if place == SLOW else 1.0)


def synthetic(n_per: int, noise: float = 0.05) -> list[Leg]:
    rng = random.Random(3)
    return [
        leg_near(rng, place, hour, truth(hour, place), noise)
        for hour in (8, 12)
        for place in (SLOW, FAST)
        for _ in range(n_per)
    ]


def test_the_factors_of_the_hidden_model_are_recovered() -> None:
    speeds = learn(synthetic(400), TZ_NAME, speed_kmh=SPEED, circuity=CIRCUITY)
    assert speeds.legs == 1600 and speeds.dropped == 0
    for hour in (8, 12):
        for place in (SLOW, FAST):
            got = speeds.factor(*place, hour)
            assert got == pytest.approx(truth(hour, place), rel=0.05), (hour, place)


def test_a_cell_with_little_data_stays_near_the_hour_factor() -> None:
    rng = random.Random(5)
    legs = [leg_near(rng, FAST, 12, 1.0) for _ in range(300)]
    thin = [*legs, *(leg_near(rng, SLOW, 12, 3.0) for _ in range(2))]
    thick = [*legs, *(leg_near(rng, SLOW, 12, 3.0) for _ in range(600))]
    few = learn(thin, TZ_NAME).factor(*SLOW, 12)
    many = learn(thick, TZ_NAME).factor(*SLOW, 12)
    assert 1.0 < few < 1.3
    assert many == pytest.approx(3.0, rel=0.1)
    # an hour never driven falls back to the overall level, a cell never seen to the hour's
    speeds = learn(legs, TZ_NAME)
    assert speeds.factor(*FAST, 3) == pytest.approx(1.0, rel=0.05)
    assert speeds.factor(10.0, 10.0, 12) == speeds.hourly[12]


def test_bad_legs_are_dropped_and_counted_not_a_crash() -> None:
    good = synthetic(50)
    bad = [
        Leg(SLOW, FAST, datetime(2026, 1, 1, 8), 600.0),  # no time zone
        Leg((math.nan, 13.4), FAST, utc(8), 600.0),
        Leg(SLOW, (95.0, 13.4), utc(8), 600.0),
        Leg(SLOW, FAST, utc(8), 0.0),
        Leg(SLOW, FAST, utc(8), -5.0),
        Leg(SLOW, FAST, utc(8), math.inf),
        Leg(SLOW, FAST, utc(8), 1.0),  # 100 km/h in town: a GPS jump
        Leg(SLOW, SLOW, utc(8), 60.0),  # did not move
    ]
    speeds = learn([*good, *bad], TZ_NAME, speed_kmh=SPEED, circuity=CIRCUITY)
    assert speeds.legs == len(good) and speeds.dropped == len(bad)
    assert speeds.factor(*SLOW, 8) == pytest.approx(2.4, rel=0.1)
    empty = learn(bad, TZ_NAME)
    assert empty.legs == 0 and set(empty.hourly) == {1.0}


def test_hours_are_the_fleet_zones_whatever_the_stored_zone() -> None:
    rng = random.Random(9)
    legs = [leg_near(rng, FAST, 8, 2.0) for _ in range(200)]
    legs += [leg_near(rng, FAST, 14, 1.0) for _ in range(200)]
    speeds = learn(legs, TZ_NAME)
    assert speeds.hourly[8] > 1.7
    assert speeds.hourly[14] < 1.1
    # the same instants read in another zone put the slow hour elsewhere
    other = "Asia/Tokyo" if TZ_NAME != "Asia/Tokyo" else "Europe/Berlin"
    shifted = learn(legs, other)
    assert shifted.hourly[8] < 1.5  # no data then: the overall level
    slow_hour = local(8).astimezone(ZoneInfo(other)).hour
    assert shifted.hourly[slow_hour] > 1.7


def test_a_track_is_cut_into_moving_legs_and_stops_are_left_out() -> None:
    start = utc(9)
    fixes: list[tuple[datetime, float, float]] = []
    for k in range(10):  # parked for 5 minutes
        fixes.append((start + timedelta(seconds=30 * k), 52.5, 13.4))
    for k in range(1, 21):  # then 10 minutes north at ~24 km/h (~200 m per fix)
        fixes.append((start + timedelta(seconds=270 + 30 * k), 52.5 + 0.0018 * k, 13.4))
    fixes.insert(5, (start + timedelta(seconds=10), 52.9, 13.9))  # out of order: skipped
    fixes.append((datetime(2026, 1, 1), 52.6, 13.4))  # naive: skipped
    fixes.append((start + timedelta(hours=1), math.nan, 13.4))  # bad: skipped
    fixes.append((None, 52.6, 13.4))  # type: ignore[arg-type]  # no time at all: skipped
    legs = legs_from_track(fixes)
    assert len(legs) == 4
    assert all(leg.duration_s >= 120 for leg in legs)
    assert all(leg.start[0] > 52.5 for leg in legs)  # the parked fixes are no leg's start
    assert legs_from_track([]) == []


def test_the_profile_file_round_trips_and_a_bad_one_is_a_clear_error(tmp_path: Path) -> None:
    speeds = learn(synthetic(50), TZ_NAME)
    path = tmp_path / "eta.json"
    path.write_text(speeds.to_json(), encoding="utf-8")
    again = LearnedSpeeds.load(path)
    assert again == speeds
    for text in ("", "{}", '{"format": 1, "zone": "UTC", "cell_deg": 0.02, "hourly": [1]}'):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValidationError):
            LearnedSpeeds.load(path)
    with pytest.raises(ValidationError):
        LearnedSpeeds.load(tmp_path / "missing.json")


def test_the_provider_slows_legs_in_slow_areas_and_hours() -> None:
    speeds = learn(synthetic(300), TZ_NAME, speed_kmh=SPEED, circuity=CIRCUITY)
    base = HaversineProvider(SPEED, CIRCUITY, profile=SpeedProfile.flat())
    places = [SLOW, (SLOW[0] + 0.004, SLOW[1]), FAST, (FAST[0] + 0.004, FAST[1])]
    plain, learned = base.matrix(places), LearnedProvider(base, speeds).matrix(places)
    assert learned.source == "haversine"
    slow_ratio = learned.duration[0, 1] / plain.duration[0, 1]
    fast_ratio = learned.duration[2, 3] / plain.duration[2, 3]
    assert slow_ratio / fast_ratio == pytest.approx(1.5, rel=0.1)

    def factor(i: int, hour: float) -> float:
        at = learned.profile.factor_at_scalar(hour * 3600)
        return float(learned.duration[i, i + 1] / plain.duration[i, i + 1]) * at

    assert factor(0, 8.5) == pytest.approx(2.4, rel=0.1)
    assert factor(2, 8.5) == pytest.approx(1.6, rel=0.1)
    assert factor(0, 12.5) == pytest.approx(1.5, rel=0.1)
    assert factor(2, 12.5) == pytest.approx(1.0, rel=0.1)


def test_live_eta_with_the_learned_provider_is_later_at_rush_hour() -> None:
    speeds = learn(synthetic(300), TZ_NAME, speed_kmh=SPEED, circuity=CIRCUITY)
    provider = LearnedProvider(HaversineProvider(SPEED, CIRCUITY), speeds)
    origin = local(0)
    stops = [PlanStop("a", (SLOW[0] + 0.004, SLOW[1]))]
    car = LiveVehicle("V1", 10, local(6), local(20), SLOW, SLOW)

    def drive(h: int) -> float:
        now = local(h, 5)
        when = arrivals(predict_route(car, stops, now, origin, provider), origin)["a"]
        return (when - now).total_seconds()

    assert drive(8) / drive(12) == pytest.approx(1.6, rel=0.1)
    assert origin.date() == DAY and origin.tzinfo == TZ


def test_naive_utc_instants_are_not_guessed() -> None:
    leg = Leg(SLOW, FAST, datetime(2026, 1, 1, 8, tzinfo=UTC).replace(tzinfo=None), 900.0)
    assert learn([leg], TZ_NAME).dropped == 1


def test_the_bench_runs_at_a_tiny_size(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_eta", Path(__file__).resolve().parents[2] / "bench" / "eta.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_eta", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    assert bench.main(["--tiny", "--curve"]) == 0
    out = capsys.readouterr().out
    assert "legs learned" in out
    for horizon in ("15 m", "30 m", "60 m"):
        assert horizon in out
