"""Geometry helpers and the facts' own validation (bad input is refused with a reason)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from alerts_builders import DEPOT, T0, evaluate, offset_m, stop, vehicle
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.alerts.engine import RuleEngine
from dispatcher.alerts.facts import EventKind, Geofence, IssueReason, Snapshot, VehicleEventFact
from dispatcher.alerts.geo import distance_to_polyline_m, haversine_m, point_in_polygon
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.model.alerts import RAISED_OUTSIDE_RULES, AlertKind, Condition


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert haversine_m((45.0, 4.0), (46.0, 4.0)) == pytest.approx(111_195, rel=1e-3)


def test_polyline_distance_matches_haversine_for_a_single_point() -> None:
    p = offset_m(DEPOT, north_m=250, east_m=-120)
    assert distance_to_polyline_m(p, [DEPOT]) == pytest.approx(haversine_m(p, DEPOT), rel=1e-3)
    assert distance_to_polyline_m(p, []) == math.inf


@given(north=st.floats(-2000, 2000), east=st.floats(-2000, 2000))
def test_projection_error_is_small_at_city_scale(north: float, east: float) -> None:
    p = offset_m(DEPOT, north_m=north, east_m=east)
    assert distance_to_polyline_m(p, [DEPOT]) == pytest.approx(math.hypot(north, east), abs=0.5)


def test_point_in_polygon_inside_outside_and_on_the_edge() -> None:
    square = [(0.0, 0.0), (0.0, 0.01), (0.01, 0.01), (0.01, 0.0)]
    assert point_in_polygon((0.005, 0.005), square)
    assert not point_in_polygon((0.02, 0.005), square)
    assert point_in_polygon((0.0, 0.005), square)


def test_facts_refuse_naive_datetimes() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        vehicle(last_seen=datetime(2026, 11, 20, 9, 0))


@pytest.mark.parametrize("kw", [{"lat": 91.0}, {"lat": math.nan}, {"lat": None}, {"lon": 181.0}])
def test_vehicle_facts_refuse_bad_coordinates(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        vehicle(**kw)


def test_stop_window_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="ends before"):
        stop(window_start=T0, window_end=datetime(2026, 11, 20, 8, 0, tzinfo=T0.tzinfo))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"center": DEPOT},
        {"center": DEPOT, "radius_m": -1.0},
        {"polygon": [DEPOT, DEPOT]},
        {"center": DEPOT, "radius_m": 10.0, "polygon": [DEPOT, DEPOT, DEPOT]},
    ],
)
def test_geofence_is_a_circle_or_a_polygon(kw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Geofence("F", "bad", **kw)


def test_event_needs_an_id() -> None:
    with pytest.raises(ValidationError):
        VehicleEventFact("", "V1", T0, EventKind.FAILED)


def test_issue_reason_parse_never_fails() -> None:
    assert IssueReason.parse("  DAMAGED ") is IssueReason.DAMAGED
    assert IssueReason.parse("") is IssueReason.OTHER


def test_thresholds_from_config_refuse_typos_and_nonsense() -> None:
    assert Thresholds.from_mapping({"stale_after_min": 3}).stale_after_min == 3
    with pytest.raises(ValidationError, match="stale_afer_min"):
        Thresholds.from_mapping({"stale_afer_min": 3})
    with pytest.raises(ValidationError):
        Thresholds.from_mapping({"deviation_m": -5})
    with pytest.raises(ValidationError):
        Thresholds.from_mapping({"deviation_m": "far"})


class _BrokenRule:
    kinds = frozenset({AlertKind.ROUTE_DEVIATION})

    def evaluate(self, snapshot: Snapshot, now: datetime) -> list[Condition]:
        raise RuntimeError("bug in a rule")


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_crashing_rule_does_not_blind_the_others(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from dispatcher.alerts.engine import default_rules

    engine = RuleEngine(clock, rules=[_BrokenRule(), *default_rules()])
    found = engine.evaluate(Snapshot(vehicles=[vehicle(online=False)]))
    assert [c.kind for c in found] == [AlertKind.VEHICLE_OFFLINE]
    assert engine.failed_kinds == {AlertKind.ROUTE_DEVIATION}
    assert AlertKind.ROUTE_DEVIATION not in engine.healthy_kinds
    assert "bug in a rule" in caplog.text


def test_the_default_engine_speaks_for_every_kind(clock: FakeClock) -> None:
    assert RuleEngine(clock).kinds == set(AlertKind) - RAISED_OUTSIDE_RULES
    assert evaluate(clock) == []
