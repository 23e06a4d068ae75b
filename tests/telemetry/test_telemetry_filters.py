"""Traccar-style filters: duplicates, out-of-order, jumps, accuracy, and the quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dispatcher.clock import FakeClock
from dispatcher.model.core import PositionReport
from dispatcher.telemetry.decoder import Accepted, Decoder, build_decoder
from dispatcher.telemetry.filters import FilterConfig, PositionFilter, Quarantine
from dispatcher.telemetry.rejection import Rejection, RejectReason

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
TOPIC = "fleet/vehicles/VAN-1/position"
# 0.001 degree of latitude is ~111 m.
DEG_100M = 100 / 111_195


def fix(seconds: float, lat: float = 52.0, lon: float = 4.0) -> PositionReport:
    return PositionReport("VAN-1", T0 + timedelta(seconds=seconds), lat, lon)


def native(seconds: float, lat: float = 52.0, lon: float = 4.0, **extra: float) -> bytes:
    ts = (T0 + timedelta(seconds=seconds)).timestamp()
    return json.dumps({"v": 1, "ts": ts, "lat": lat, "lon": lon, **extra}).encode()


def test_the_same_fix_twice_is_a_duplicate() -> None:
    f = PositionFilter(FilterConfig())
    assert f.check(fix(0)) == (None, False)
    rejection, _ = f.check(fix(0))
    assert rejection is not None and rejection.reason is RejectReason.DUPLICATE


def test_an_older_fix_is_accepted_but_flagged_out_of_order() -> None:
    f = PositionFilter(FilterConfig())
    f.check(fix(10))
    assert f.check(fix(5, lat=52.0 + DEG_100M)) == (None, True)
    # ...and it does not move the anchor: the next fix is compared with t=10.
    assert f.check(fix(20, lat=52.0 + 2 * DEG_100M)) == (None, False)
    # a late duplicate of the out-of-order fix is still a duplicate
    rejection, _ = f.check(fix(5, lat=52.0 + DEG_100M))
    assert rejection is not None and rejection.reason is RejectReason.DUPLICATE


def test_ten_km_in_ten_seconds_is_a_jump() -> None:
    f = PositionFilter(FilterConfig())
    f.check(fix(0))
    rejection, _ = f.check(fix(10, lat=52.0 + 100 * DEG_100M))
    assert rejection is not None and rejection.reason is RejectReason.JUMP
    assert "km/h" in rejection.detail


def test_gps_jitter_is_never_a_jump() -> None:
    f = PositionFilter(FilterConfig(min_jump_distance_m=250))
    f.check(fix(0))
    assert f.check(fix(1, lat=52.0 + 2 * DEG_100M)) == (None, False)  # 200 m in 1 s


def test_a_real_relocation_is_believed_after_consistent_fixes() -> None:
    """Ferry or tunnel: after N mutually consistent 'jumped' fixes the new place wins."""
    f = PositionFilter(FilterConfig(jump_confirmations=3))
    f.check(fix(0))
    far = 53.0
    verdicts = [f.check(fix(10 + i * 10, lat=far + i * DEG_100M))[0] for i in range(3)]
    assert [v.reason if v else None for v in verdicts] == [
        RejectReason.JUMP,
        RejectReason.JUMP,
        None,
    ]
    assert f.check(fix(50, lat=far + 3 * DEG_100M)) == (None, False)


def test_inconsistent_jumps_never_confirm() -> None:
    f = PositionFilter(FilterConfig(jump_confirmations=2))
    f.check(fix(0))
    for i, lat in enumerate([53.0, 51.0, 53.0, 51.0]):
        rejection, _ = f.check(fix(10 + i, lat=lat))
        assert rejection is not None and rejection.reason is RejectReason.JUMP


def test_poor_accuracy_and_absurd_speed() -> None:
    clock = FakeClock(T0)
    decoder = build_decoder(clock=clock, config=FilterConfig(max_accuracy_m=100))
    bad = decoder.decode(TOPIC, native(0, accuracy_m=150))
    assert isinstance(bad, Rejection) and bad.reason is RejectReason.POOR_ACCURACY
    fast = decoder.decode(TOPIC, native(1, speed_kmh=900))
    assert isinstance(fast, Rejection) and fast.reason is RejectReason.OUT_OF_RANGE
    assert isinstance(decoder.decode(TOPIC, native(2, accuracy_m=20)), Accepted)


def test_too_old_and_future_thresholds_come_from_the_config() -> None:
    clock = FakeClock(T0)
    decoder = build_decoder(clock=clock, config=FilterConfig(max_age_s=60, max_future_s=10))
    old = decoder.decode(TOPIC, native(-61))
    assert isinstance(old, Rejection) and old.reason is RejectReason.TOO_OLD
    future = decoder.decode(TOPIC, native(11))
    assert isinstance(future, Rejection) and future.reason is RejectReason.IN_FUTURE
    assert isinstance(decoder.decode(TOPIC, native(9)), Accepted)


def test_rejections_are_counted_and_quarantined_with_capped_bytes() -> None:
    clock = FakeClock(T0)
    decoder = build_decoder(
        clock=clock, config=FilterConfig(quarantine_size=3, quarantine_payload_bytes=10)
    )
    for _ in range(5):
        decoder.decode(TOPIC, b"not json at all")
    decoder.decode(TOPIC, native(0, lat=0.0, lon=0.0))
    q = decoder.quarantine
    assert q.counts() == {RejectReason.MALFORMED_JSON: 5, RejectReason.NULL_ISLAND: 1}
    assert q.total == 6
    entries = q.entries()
    assert len(entries) == 3
    assert entries[-1].reason is RejectReason.NULL_ISLAND
    assert entries[0].payload == b"not json a"
    assert entries[0].payload_size == len(b"not json at all")
    assert entries[0].topic == TOPIC and entries[0].received_at == T0
    q.clear()
    assert q.total == 0 and q.entries() == []


def test_quarantine_caps_hostile_topics() -> None:
    q = Quarantine(capacity=2, payload_cap=4, topic_cap=16)
    q.add("x" * 10_000, b"payload", Rejection(RejectReason.UNKNOWN_TOPIC), T0)
    assert len(q.entries()[0].topic) == 16


def test_one_shot_decoding_keeps_no_memory() -> None:
    decoder: Decoder = build_decoder(clock=FakeClock(T0), stateful=False)
    assert isinstance(decoder.decode(TOPIC, native(0)), Accepted)
    assert isinstance(decoder.decode(TOPIC, native(0)), Accepted)
