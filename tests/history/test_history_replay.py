"""Replay reads back exactly the stored fixes of a window, in time order, and the player turns
them into frames at 1x-60x with scrubbing, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.errors import ValidationError
from dispatcher.history.replay import ReplayPlayer, ReplayWindow, load_replay
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport
from dispatcher.persistence.database import Database
from dispatcher.persistence.history_repo import ReplayTuple
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_replay_returns_exactly_the_stored_positions_in_order(database: Database) -> None:
    rng = random.Random(4)
    fixes = [
        PositionReport(
            f"v{rng.randrange(8)}",
            at(rng.uniform(-600, 4200)).replace(microsecond=rng.randrange(0, 10**6, 1000)),
            52.4 + rng.random() / 10,
            13.3 + rng.random() / 10,
            rng.choice([None, 20.0]),
            rng.choice([None, 90.0]),
        )
        for _ in range(400)
    ]
    sink = SqlTelemetrySink(database)
    sink.write_positions(fixes[:200])
    sink.write_positions(fixes[200:])
    window = load_replay(database, at(0), at(3600))
    expected = sorted(
        (
            (p.vehicle_id, p.ts.timestamp(), p.lat, p.lon, p.speed_kmh, p.heading_deg)
            for p in fixes
            if at(0) <= p.ts <= at(3600)
        ),
        key=lambda row: row[1],
    )
    times = [r[1] for r in window.positions]
    assert times == sorted(times)
    # exactly the stored rows (times to the microsecond), nothing more, nothing less
    assert sorted(window.positions, key=lambda r: (r[1], r[0], r[2])) == sorted(
        expected, key=lambda r: (r[1], r[0], r[2])
    )
    # each vehicle seen before the window gets its last earlier fix as the starting point
    for vid, ts, *_ in window.seeds:
        earlier = [p.ts for p in fixes if p.vehicle_id == vid and p.ts < at(0)]
        assert ts == max(earlier).timestamp()
    assert {s[0] for s in window.seeds} == {p.vehicle_id for p in fixes if p.ts < at(0)}


def test_events_of_the_window_come_with_the_replay(database: Database) -> None:
    sink = SqlTelemetrySink(database)
    sink.write_events(
        [
            EventReport("v1", at(-10), DeliveryEventKind.ARRIVED, "e0"),
            EventReport("v1", at(100), DeliveryEventKind.ARRIVED, "e1", stop_id="o1"),
            EventReport("v2", at(50), DeliveryEventKind.FAILED, "e2", reason="nobody home"),
        ]
    )
    window = load_replay(database, at(0), at(600))
    assert [(e.vehicle_id, e.kind, e.reason) for e in window.events] == [
        ("v2", "failed", "nobody home"),
        ("v1", "arrived", ""),
    ]


def small_window() -> ReplayWindow:
    def e(s: float) -> float:
        return at(s).timestamp()

    rows: list[ReplayTuple] = [
        ("a", e(0), 52.0, 13.0, 30.0, 0.0),
        ("b", e(20), 53.0, 14.0, None, None),
        ("a", e(60), 52.6, 13.0, 30.0, 0.0),
        ("a", e(3000), 52.9, 13.0, 0.0, 0.0),
    ]
    seeds: list[ReplayTuple] = [("c", e(-100), 50.0, 10.0, None, None)]
    return ReplayWindow(at(0), at(3600), rows, seeds, [])


def test_a_frame_places_each_vehicle_at_its_fix_interpolated_to_the_next() -> None:
    player = ReplayPlayer(small_window())
    frame = player.seek(at(30))
    by_id = {p.vehicle_id: p for p in frame.positions}
    assert set(by_id) == {"a", "b", "c"}
    assert by_id["a"].lat == pytest.approx(52.3)  # halfway between 0 s and 60 s
    assert by_id["b"].lat == 53.0 and by_id["b"].age_s == 10
    assert by_id["c"].lat == 50.0  # the seed: last known before the window


def test_a_long_gap_is_not_bridged() -> None:
    player = ReplayPlayer(small_window())
    a = next(p for p in player.seek(at(1000)).positions if p.vehicle_id == "a")
    assert a.lat == 52.6 and a.age_s == 940


def test_a_vehicle_appears_with_its_first_fix() -> None:
    player = ReplayPlayer(small_window())
    assert {p.vehicle_id for p in player.seek(at(10)).positions} == {"a", "c"}


def test_playing_moves_by_wall_time_times_speed_and_stops_at_the_end() -> None:
    player = ReplayPlayer(small_window(), speed=60)
    player.advance(1.0)
    assert player.at == at(0)  # paused: nothing moves
    player.play()
    assert player.advance(1.5).at == at(90)
    player.speed = 1
    assert player.advance(2).at == at(92)
    player.speed = 60
    player.advance(3600)
    assert player.finished and not player.playing and player.fraction == 1.0
    player.play()  # play at the end starts over
    assert player.at == at(0)


def test_scrubbing_is_clamped_to_the_window() -> None:
    player = ReplayPlayer(small_window())
    assert player.seek(at(-50)).at == at(0)
    assert player.seek_fraction(2.0).at == at(3600)
    assert player.seek_fraction(0.5).at == at(1800)


def test_speed_outside_1x_to_60x_is_refused() -> None:
    player = ReplayPlayer(small_window())
    with pytest.raises(ValidationError, match="1x to 60x"):
        player.speed = 120


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (at(10), at(0), "end after it starts"),
        (at(0), at(0) + timedelta(hours=30), "at most 24 hours"),
        (datetime(2026, 11, 20, 9), datetime(2026, 11, 20, 10), "time zone"),
    ],
)
def test_bad_ranges_are_refused_with_a_reason(
    sqlite_url: str, start: datetime, end: datetime, message: str
) -> None:
    db = Database(sqlite_url)
    try:
        with pytest.raises(ValidationError, match=message):
            load_replay(db, start, end)
    finally:
        db.dispose()
