"""Each device format normalizes its own units into PositionReport/EventReport/StatusReport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.clock import FakeClock
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport, StatusReport
from dispatcher.telemetry.decoder import Accepted, Decoder
from dispatcher.telemetry.rejection import Rejection, RejectReason

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
EPOCH = T0.timestamp()


def _payload(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _accepted(result: Accepted | Rejection) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def _rejected(result: Accepted | Rejection, reason: RejectReason) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result
    return result


# -- native ---------------------------------------------------------------------------------
def test_native_position_in_canonical_units(decoder: Decoder) -> None:
    payload = _payload(
        v=1,
        ts="2026-11-20T07:00:00Z",
        lat=52.37,
        lon=4.89,
        speed_kmh=36,
        heading_deg=90,
        accuracy_m=5,
        altitude_m=2,
        battery_pct=81,
        device_id="tab-7",
    )
    report = _accepted(decoder.decode("fleet/vehicles/VAN-7/position", payload)).report
    assert report == PositionReport(
        vehicle_id="VAN-7",
        ts=T0,
        lat=52.37,
        lon=4.89,
        speed_kmh=36.0,
        heading_deg=90.0,
        accuracy_m=5.0,
        altitude_m=2.0,
        battery_pct=81.0,
        device_id="tab-7",
        source="native",
    )


@pytest.mark.parametrize(
    ("ts", "speed", "battery"),
    [
        (EPOCH, {"speed_ms": 10}, {"battery": 0.5}),
        (EPOCH * 1000, {"speed_ms": 10}, {"battery": 0.5}),
        ("2026-11-20T08:00:00+01:00", {"speed_kmh": 36}, {"battery_pct": 50}),
        ("2026-11-20T07:00:00", {"speed_kmh": 36}, {"battery_pct": 50}),
    ],
    ids=["epoch-s", "epoch-ms", "iso-offset", "iso-naive-is-utc"],
)
def test_native_units_are_normalized(
    decoder: Decoder, ts: object, speed: dict[str, float], battery: dict[str, float]
) -> None:
    payload = _payload(v=1, ts=ts, lat=52.0, lon=4.0, **speed, **battery)
    report = _accepted(decoder.decode("fleet/vehicles/V/position", payload)).report
    assert isinstance(report, PositionReport)
    assert report.ts == T0
    assert report.speed_kmh == pytest.approx(36.0)
    assert report.battery_pct == pytest.approx(50.0)


def test_native_payload_naming_another_vehicle_is_rejected(decoder: Decoder) -> None:
    payload = _payload(v=1, vehicle_id="VAN-9", ts=EPOCH, lat=52.0, lon=4.0)
    _rejected(
        decoder.decode("fleet/vehicles/VAN-7/position", payload), RejectReason.VEHICLE_MISMATCH
    )


def test_native_payload_naming_its_own_vehicle_is_fine(decoder: Decoder) -> None:
    payload = _payload(v=1, vehicle_id="VAN-7", ts=EPOCH, lat=52.0, lon=4.0)
    _accepted(decoder.decode("fleet/vehicles/VAN-7/position", payload))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ts": EPOCH, "lat": 52.0, "lon": 4.0}, RejectReason.MISSING_FIELD),
        ({"v": 2, "ts": EPOCH, "lat": 52.0, "lon": 4.0}, RejectReason.UNSUPPORTED_VERSION),
        ({"v": True, "ts": EPOCH, "lat": 52.0, "lon": 4.0}, RejectReason.WRONG_TYPE),
        ({"v": 1, "ts": EPOCH, "lat": "52.0", "lon": 4.0}, RejectReason.WRONG_TYPE),
        ({"v": 1, "ts": EPOCH, "lat": True, "lon": 4.0}, RejectReason.WRONG_TYPE),
        ({"v": 1, "ts": EPOCH, "lat": 91.0, "lon": 4.0}, RejectReason.OUT_OF_RANGE),
        ({"v": 1, "ts": EPOCH, "lat": 52.0, "lon": -180.5}, RejectReason.OUT_OF_RANGE),
        ({"v": 1, "ts": EPOCH, "lat": 0.0, "lon": 0.0}, RejectReason.NULL_ISLAND),
        (
            {"v": 1, "ts": EPOCH, "lat": 52.0, "lon": 4.0, "battery_pct": 140},
            RejectReason.OUT_OF_RANGE,
        ),
        ({"v": 1, "ts": "yesterday", "lat": 52.0, "lon": 4.0}, RejectReason.BAD_TIMESTAMP),
        ({"v": 1, "ts": -5, "lat": 52.0, "lon": 4.0}, RejectReason.BAD_TIMESTAMP),
        ({"v": 1, "lat": 52.0, "lon": 4.0}, RejectReason.MISSING_FIELD),
    ],
    ids=[
        "no-version",
        "future-version",
        "bool-version",
        "string-lat",
        "bool-lat",
        "lat-91",
        "lon-out",
        "null-island",
        "battery-140",
        "ts-word",
        "ts-negative",
        "no-ts",
    ],
)
def test_native_bad_positions_say_why(
    decoder: Decoder, fields: dict[str, object], reason: RejectReason
) -> None:
    _rejected(decoder.decode("fleet/vehicles/V/position", _payload(**fields)), reason)


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_native_non_finite_numbers_are_rejected(decoder: Decoder, raw: bytes) -> None:
    payload = b'{"v":1,"ts":%d,"lat":%s,"lon":4.0}' % (int(EPOCH), raw)
    _rejected(decoder.decode("fleet/vehicles/V/position", payload), RejectReason.NOT_FINITE)


def test_minus_one_markers_mean_unknown(decoder: Decoder) -> None:
    payload = _payload(
        v=1,
        ts=EPOCH,
        lat=52.0,
        lon=4.0,
        speed_kmh=-1,
        heading_deg=-1,
        accuracy_m=-1,
        battery_pct=-1,
    )
    report = _accepted(decoder.decode("fleet/vehicles/V/position", payload)).report
    assert isinstance(report, PositionReport)
    assert (report.speed_kmh, report.heading_deg, report.accuracy_m, report.battery_pct) == (
        None,
        None,
        None,
        None,
    )


def test_native_delivery_event(decoder: Decoder) -> None:
    payload = _payload(
        v=1,
        event_id="e-1",
        kind="failed",
        reason="customer absent",
        ts=EPOCH,
        stop_id="S-12",
        lat=52.0,
        lon=4.0,
    )
    report = _accepted(decoder.decode("fleet/vehicles/VAN-7/event", payload)).report
    assert isinstance(report, EventReport)
    assert (report.kind, report.reason, report.stop_id, report.event_id) == (
        DeliveryEventKind.FAILED,
        "customer absent",
        "S-12",
        "e-1",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_id": "e", "kind": "failed", "ts": EPOCH}, RejectReason.MISSING_FIELD),
        ({"event_id": "e", "kind": "pod", "ts": EPOCH}, RejectReason.MISSING_FIELD),
        ({"event_id": "e", "kind": "teleported", "ts": EPOCH}, RejectReason.BAD_VALUE),
        ({"kind": "arrived", "ts": EPOCH}, RejectReason.MISSING_FIELD),
        ({"event_id": 7, "kind": "arrived", "ts": EPOCH}, RejectReason.WRONG_TYPE),
        (
            {"event_id": "e", "kind": "arrived", "ts": EPOCH, "lat": 52.0},
            RejectReason.MISSING_FIELD,
        ),
    ],
    ids=[
        "failed-without-reason",
        "pod-without-ref",
        "unknown-kind",
        "no-id",
        "int-id",
        "half-position",
    ],
)
def test_native_bad_events_say_why(
    decoder: Decoder, fields: dict[str, object], reason: RejectReason
) -> None:
    _rejected(decoder.decode("fleet/vehicles/V/event", _payload(v=1, **fields)), reason)


def test_native_last_will_is_stamped_on_receipt(decoder: Decoder, clock: FakeClock) -> None:
    payload = _payload(v=1, state="offline")
    report = _accepted(decoder.decode("fleet/vehicles/VAN-7/status", payload)).report
    assert report == StatusReport(vehicle_id="VAN-7", ts=clock.now(), online=False)


def test_console_topics_are_not_telemetry(decoder: Decoder) -> None:
    payload = _payload(v=1, stops=[])
    _rejected(decoder.decode("fleet/vehicles/V/route", payload), RejectReason.UNSUPPORTED_TYPE)


@pytest.mark.parametrize(
    "topic", ["fleet/vehicles//position", "fleet/vehicles/V/position/extra", "fleet/vehicles/V"]
)
def test_malformed_native_topics(decoder: Decoder, topic: str) -> None:
    _rejected(decoder.decode(topic, _payload(v=1)), RejectReason.UNKNOWN_TOPIC)


def test_the_prefix_is_configurable(clock: FakeClock) -> None:
    from dispatcher.telemetry.decoder import build_decoder

    decoder = build_decoder(prefix="acme/fleet", clock=clock)
    payload = _payload(v=1, ts=EPOCH, lat=52.0, lon=4.0)
    _accepted(decoder.decode("acme/fleet/vehicles/V/position", payload))
    _rejected(decoder.decode("fleet/vehicles/V/position", payload), RejectReason.UNKNOWN_TOPIC)


# -- Traccar --------------------------------------------------------------------------------
TRACCAR = {
    "position": {
        "id": 1,
        "deviceId": 4,
        "protocol": "teltonika",
        "serverTime": "2026-11-20T07:00:01.000+00:00",
        "deviceTime": "2026-11-20T07:00:00.000+00:00",
        "fixTime": "2026-11-20T07:00:00.000+00:00",
        "outdated": False,
        "valid": True,
        "latitude": 52.37,
        "longitude": 4.89,
        "altitude": 3.0,
        "speed": 10.0,
        "course": 180.0,
        "accuracy": 0.0,
        "attributes": {"batteryLevel": 77, "motion": True},
    },
    "device": {"id": 4, "name": "Van 2", "uniqueId": "356938035643809", "status": "online"},
}


def test_traccar_knots_and_iso_fix_time(decoder: Decoder) -> None:
    report = _accepted(decoder.decode("traccar/positions", json.dumps(TRACCAR).encode())).report
    assert isinstance(report, PositionReport)
    assert report.vehicle_id == "VAN-2"
    assert report.ts == T0
    assert report.speed_kmh == pytest.approx(18.52)
    assert report.heading_deg == 180.0
    assert report.accuracy_m is None  # Traccar's 0 means "not reported"
    assert report.battery_pct == 77


def test_traccar_invalid_fix_is_rejected(decoder: Decoder) -> None:
    data = json.loads(json.dumps(TRACCAR))
    data["position"]["valid"] = False
    _rejected(
        decoder.decode("traccar/positions", json.dumps(data).encode()), RejectReason.INVALID_FIX
    )


def test_traccar_unknown_device_is_rejected_not_created(decoder: Decoder) -> None:
    data = json.loads(json.dumps(TRACCAR))
    data["device"]["uniqueId"] = "999"
    _rejected(
        decoder.decode("traccar/positions", json.dumps(data).encode()), RejectReason.UNKNOWN_DEVICE
    )


# -- Home Assistant -------------------------------------------------------------------------
def test_home_assistant_mqtt_json_is_stamped_on_receipt(decoder: Decoder) -> None:
    payload = _payload(latitude=52.1, longitude=4.3, gps_accuracy=12, battery_level=64)
    report = _accepted(decoder.decode("location/van3", payload)).report
    assert isinstance(report, PositionReport)
    assert (report.vehicle_id, report.ts, report.accuracy_m, report.battery_pct) == (
        "VAN-3",
        T0,
        12.0,
        64.0,
    )


# -- whole decoder --------------------------------------------------------------------------
def test_unknown_topic(decoder: Decoder) -> None:
    _rejected(decoder.decode("zigbee2mqtt/lamp", b"{}"), RejectReason.UNKNOWN_TOPIC)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", RejectReason.EMPTY),
        (b"\xff\xfe{}", RejectReason.BAD_UTF8),
        (b'{"v":1,', RejectReason.MALFORMED_JSON),
        (b"[1,2]", RejectReason.NOT_AN_OBJECT),
        (b"x" * 20_000, RejectReason.OVERSIZED),
    ],
)
def test_broken_bytes(decoder: Decoder, payload: bytes, reason: RejectReason) -> None:
    _rejected(decoder.decode("fleet/vehicles/V/position", payload), reason)


def test_subscriptions_ask_qos1_only_for_events(decoder: Decoder) -> None:
    subs = dict(decoder.subscriptions())
    assert subs["fleet/vehicles/+/event"] == 1
    assert subs["owntracks/+/+/event"] == 1
    assert subs["fleet/vehicles/+/position"] == 0
    assert subs["owntracks/+/+"] == 0


def test_timestamp_far_in_the_future_is_a_broken_clock(decoder: Decoder) -> None:
    ts = (T0 + timedelta(hours=1)).timestamp()
    result = decoder.decode("fleet/vehicles/V/position", _payload(v=1, ts=ts, lat=52.0, lon=4.0))
    _rejected(result, RejectReason.IN_FUTURE)
