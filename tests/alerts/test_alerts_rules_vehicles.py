"""Vehicle rules: offline vs stale, idle away from stops, deviation, overtime, plan, load.

Defaults under test: stale after 5 min of silence, idle after 10 min stopped beyond 150 m of
any stop, deviation beyond 300 m, overtime as soon as the predicted end passes the shift end.
"""

from __future__ import annotations

import pytest
from alerts_builders import (
    DEPOT,
    HERE,
    T0,
    circle,
    evaluate,
    minutes,
    of_kind,
    offset_m,
    stop,
    vehicle,
)

from dispatcher.alerts.facts import FenceKind
from dispatcher.clock import FakeClock
from dispatcher.model.alerts import AlertKind, Severity

# -- offline / stale -------------------------------------------------------------------------


def test_last_will_raises_offline_not_stale(clock: FakeClock) -> None:
    clock.advance(minutes=30)
    found = evaluate(clock, vehicle(online=False), stop(window_end=T0 + minutes(90)))
    assert [c.kind for c in found] == [AlertKind.VEHICLE_OFFLINE]
    (c,) = found
    assert c.severity is Severity.HIGH
    assert c.subject == "vehicle:V1"
    assert c.sla_deadline == T0 + minutes(90)  # the next customer it will let down


@pytest.mark.parametrize(
    ("silent_min", "stale"), [(4.99, False), (5, True), (12, True)], ids=["4:59", "exactly-5", "12"]
)
def test_silent_for_five_minutes_is_stale(clock: FakeClock, silent_min: float, stale: bool) -> None:
    clock.advance(minutes=silent_min)
    found = of_kind(evaluate(clock, vehicle()), AlertKind.VEHICLE_STALE)
    assert bool(found) is stale


def test_never_heard_from_is_stale(clock: FakeClock) -> None:
    (c,) = evaluate(clock, vehicle(last_seen=None, lat=None, lon=None))
    assert c.kind is AlertKind.VEHICLE_STALE
    assert "ever" in c.title


def test_off_duty_vehicles_may_sleep(clock: FakeClock) -> None:
    clock.advance(minutes=60)
    assert not evaluate(
        clock, vehicle(online=False, on_duty=False), vehicle(vehicle_id="V2", on_duty=False)
    )


# -- idle ------------------------------------------------------------------------------------


def parked(
    clock: FakeClock, stopped_min: float, extra: tuple[object, ...] = (), **kw: object
) -> list[AlertKind]:
    """Kinds raised for a vehicle stopped for ``stopped_min`` at ``HERE`` (still reporting)."""
    clock.advance(minutes=stopped_min)
    fields: dict[str, object] = {"stopped_since": T0, "last_seen": clock.now(), "speed_kmh": 0.0}
    fields.update(kw)
    return [c.kind for c in evaluate(clock, vehicle(**fields), *extra)]


@pytest.mark.parametrize(
    ("stopped_min", "idle"),
    [(9.99, False), (10, True), (25, True)],
    ids=["9:59", "exactly-10", "25"],
)
def test_stopped_for_ten_minutes_away_from_stops_is_idle(
    clock: FakeClock, stopped_min: float, idle: bool
) -> None:
    assert (AlertKind.VEHICLE_IDLE in parked(clock, stopped_min)) is idle


@pytest.mark.parametrize(("distance_m", "idle"), [(140, False), (160, True)])
def test_stopped_within_150_m_of_its_stop_is_working_not_idle(
    clock: FakeClock, distance_m: float, idle: bool
) -> None:
    lat, lon = offset_m(HERE, north_m=distance_m)
    at_stop = stop(lat=lat, lon=lon, window_end=T0 + minutes(300))
    assert (AlertKind.VEHICLE_IDLE in parked(clock, 30, extra=(at_stop,))) is idle


def test_stopped_at_the_depot_is_not_idle(clock: FakeClock) -> None:
    at_depot = {"lat": DEPOT[0], "lon": DEPOT[1]}
    assert AlertKind.VEHICLE_IDLE not in parked(clock, 30, **at_depot, extra=(circle(),))


def test_stopped_in_a_zone_that_is_not_a_depot_is_idle(clock: FakeClock) -> None:
    zone = circle(kind=FenceKind.ZONE, alert_on_enter=False)
    assert AlertKind.VEHICLE_IDLE in parked(clock, 30, lat=DEPOT[0], lon=DEPOT[1], extra=(zone,))


def test_moving_vehicle_is_not_idle_whatever_stopped_since_says(clock: FakeClock) -> None:
    assert AlertKind.VEHICLE_IDLE not in parked(clock, 30, speed_kmh=25.0)


def test_stale_vehicle_is_not_also_idle(clock: FakeClock) -> None:
    kinds = parked(clock, 30, last_seen=T0)
    assert kinds == [AlertKind.VEHICLE_STALE]


# -- route deviation -------------------------------------------------------------------------

PATH = [(45.7600, 4.8300), (45.7600, 4.8500)]  # an east-west street through HERE


@pytest.mark.parametrize(("off_m", "deviates"), [(299, False), (301, True), (0, False)])
def test_more_than_300_m_from_the_planned_path_is_a_deviation(
    clock: FakeClock, off_m: float, deviates: bool
) -> None:
    lat, lon = offset_m(HERE, north_m=off_m)
    found = of_kind(
        evaluate(clock, vehicle(lat=lat, lon=lon, planned_path=PATH)), AlertKind.ROUTE_DEVIATION
    )
    assert bool(found) is deviates
    if deviates:
        assert found[0].details["distance_m"] == pytest.approx(off_m, abs=1)


def test_the_deviation_says_how_far_in_the_fleets_units(clock: FakeClock) -> None:
    from dispatcher import display
    from dispatcher.fleet_settings import FleetSettings

    lat, lon = offset_m(HERE, north_m=350)
    (c,) = evaluate(clock, vehicle(lat=lat, lon=lon, planned_path=PATH))
    assert c.title.endswith(" is 350 m off its planned route")
    display.install(FleetSettings.from_mapping({"units": "mi", "locale": "en_US"}))
    (c,) = evaluate(clock, vehicle(lat=lat, lon=lon, planned_path=PATH))
    assert c.title.endswith(" is 0.2 mi off its planned route")
    assert c.details["distance_m"] == pytest.approx(350, abs=1)  # data stays in metres


def test_deviation_is_measured_to_the_nearest_segment_not_vertex(clock: FakeClock) -> None:
    lat, lon = offset_m(HERE, north_m=200)  # vertices are ~800 m away, the street 200 m
    assert not evaluate(clock, vehicle(lat=lat, lon=lon, planned_path=PATH))


def test_beyond_the_end_of_the_path_counts_from_the_last_point(clock: FakeClock) -> None:
    lat, lon = offset_m(PATH[-1], east_m=350)
    (c,) = evaluate(clock, vehicle(lat=lat, lon=lon, planned_path=PATH))
    assert c.details["distance_m"] == pytest.approx(350, abs=1)


def test_no_planned_path_no_deviation(clock: FakeClock) -> None:
    assert not evaluate(clock, vehicle(lat=0.5, lon=0.5))


# -- shift, plan, capacity -------------------------------------------------------------------

SHIFT_END = T0 + minutes(8 * 60)


@pytest.mark.parametrize(
    ("over_min", "severity"),
    [(0, None), (0.5, Severity.MEDIUM), (30, Severity.MEDIUM), (31, Severity.HIGH)],
)
def test_predicted_route_end_after_shift_end_is_overrun(
    clock: FakeClock, over_min: float, severity: Severity | None
) -> None:
    v = vehicle(shift_end=SHIFT_END, predicted_route_end=SHIFT_END + minutes(over_min))
    found = of_kind(evaluate(clock, v), AlertKind.SHIFT_OVERRUN)
    assert [c.severity for c in found] == ([severity] if severity else [])
    if found:
        assert found[0].sla_deadline == SHIFT_END


def test_infeasible_plan_is_raised_with_the_planners_reason(clock: FakeClock) -> None:
    v = vehicle(plan_feasible=False, infeasible_reasons=["stop S4 cannot be reached in time"])
    (c,) = evaluate(clock, v)
    assert c.kind is AlertKind.PLAN_INFEASIBLE
    assert "S4" in c.title
    assert c.details["reasons"] == ["stop S4 cannot be reached in time"]


@pytest.mark.parametrize(("load", "over"), [(100, False), (100.5, True), (0, False)])
def test_load_above_capacity_is_exceeded(clock: FakeClock, load: float, over: bool) -> None:
    found = of_kind(evaluate(clock, vehicle(load=load, capacity=100)), AlertKind.CAPACITY_EXCEEDED)
    assert bool(found) is over


def test_unknown_capacity_is_never_exceeded(clock: FakeClock) -> None:
    assert not evaluate(clock, vehicle(load=10_000, capacity=None))
