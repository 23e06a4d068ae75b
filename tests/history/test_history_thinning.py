"""Thinning keeps a fix when the vehicle moved D metres, turned H degrees or N seconds passed,
always passes events, and never stores a batch twice when the database write is retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.errors import ConfigError, DatabaseError
from dispatcher.history.settings import HistorySettings, ThinningPolicy
from dispatcher.history.thinning import PositionThinner, ThinningSink, heading_change_deg
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.telemetry.sink import InMemorySink

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
POLICY = ThinningPolicy(min_distance_m=50, min_heading_deg=20, max_interval_s=30)
#: One metre north, in degrees of latitude.
M = 1 / 111_195


def fix(
    s: float, north_m: float = 0.0, heading: float | None = 0.0, vid: str = "v1"
) -> PositionReport:
    return PositionReport(vid, T0 + timedelta(seconds=s), 52.5 + north_m * M, 13.4, 30.0, heading)


def kept(fixes: Sequence[PositionReport], policy: ThinningPolicy = POLICY) -> list[float]:
    thinner = PositionThinner(policy)
    return [(p.ts - T0).total_seconds() for p in thinner.thin(fixes)]


def test_the_first_fix_of_a_vehicle_is_always_stored() -> None:
    assert kept([fix(0)]) == [0]


def test_a_parked_vehicle_keeps_one_fix_every_max_interval() -> None:
    assert kept([fix(s) for s in range(91)]) == [0, 30, 60, 90]


def test_driving_straight_stores_a_fix_every_min_distance() -> None:
    # 10 m/s north: 50 m every 5 s
    assert kept([fix(s, north_m=10 * s) for s in range(21)]) == [0, 5, 10, 15, 20]


def test_a_turn_is_stored_even_before_the_distance_is_reached() -> None:
    fixes = [fix(0), fix(1, 8), fix(2, 16, heading=25.0), fix(3, 24, heading=30.0)]
    assert kept(fixes) == [0, 2]


def test_a_heading_jitter_while_parked_is_not_a_turn() -> None:
    fixes = [fix(0), fix(1, 1, heading=90.0), fix(2, 0.5, heading=200.0)]
    assert kept(fixes) == [0]


def test_heading_change_takes_the_short_way_round() -> None:
    assert heading_change_deg(350, 10) == pytest.approx(20)
    assert heading_change_deg(10, 350) == pytest.approx(20)
    assert heading_change_deg(0, 180) == pytest.approx(180)


def test_vehicles_are_thinned_independently() -> None:
    fixes = [fix(0, vid="a"), fix(0, vid="b"), fix(10, vid="a"), fix(31, vid="b")]
    thinner = PositionThinner(POLICY)
    assert [(p.vehicle_id, p.ts) for p in thinner.thin(fixes)] == [
        ("a", T0),
        ("b", T0),
        ("b", T0 + timedelta(seconds=31)),
    ]


def test_an_exact_duplicate_is_dropped() -> None:
    assert kept([fix(0), fix(0), fix(0)]) == [0]


def test_a_late_burst_is_thinned_among_itself_without_moving_the_live_anchor() -> None:
    live = [fix(100), fix(101, 1)]
    burst = [fix(s, north_m=10 * s) for s in range(11)]  # a tunnel flush, 100 s late
    after = [fix(131, 2)]
    assert kept(live + burst + after) == [100, 0, 5, 10, 131]


def test_thinning_off_stores_everything() -> None:
    off = ThinningPolicy(min_distance_m=0, min_heading_deg=0, max_interval_s=0)
    assert kept([fix(0), fix(0), fix(1)], off) == [0, 0, 1]


def test_the_first_fix_after_an_event_is_stored() -> None:
    inner = InMemorySink()
    sink = ThinningSink(inner, POLICY)
    sink.write_positions([fix(0), fix(1)])
    sink.write_events([EventReport("v1", T0, DeliveryEventKind.ARRIVED, "e1", stop_id="o1")])
    sink.write_positions([fix(2), fix(3)])
    assert [(p.ts - T0).total_seconds() for p in inner.positions] == [0, 2]
    assert [e.event_id for e in inner.events] == ["e1"]


class FlakySink(InMemorySink):
    """Fails the first position write like a database that is briefly unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def write_positions(self, batch: Sequence[PositionReport]) -> None:
        if self.failures:
            self.failures -= 1
            raise DatabaseError("database is locked")
        super().write_positions(batch)


def test_a_retried_batch_stores_the_same_fixes_once() -> None:
    inner = FlakySink()
    sink = ThinningSink(inner, POLICY)
    batch = [fix(0), fix(10), fix(31)]
    with pytest.raises(DatabaseError):
        sink.write_positions(batch)
    sink.write_positions(batch)  # the batch writer retries the very same list
    assert [(p.ts - T0).total_seconds() for p in inner.positions] == [0, 31]


def test_history_settings_read_from_the_config_table() -> None:
    s = HistorySettings.from_mapping(
        {"min_distance_m": 25, "max_interval_s": 10.5, "retention_days": 30}
    )
    assert s.thinning.min_distance_m == 25
    assert s.thinning.max_interval_s == 10.5
    assert s.thinning.min_heading_deg == 20  # default kept
    assert s.retention_days == 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_distance": 5}, "unknown setting 'min_distance'"),
        ({"max_interval_s": "often"}, "must be a number"),
        ({"retention_days": -1}, "must not be negative"),
        ({"retention_days": 1.5}, "whole number"),
        ({"prune_batch": 0}, "at least 1"),
        ({"min_heading_deg": True}, "must be a number"),
    ],
)
def test_bad_history_settings_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HistorySettings.from_mapping(data)
