"""OwnTracks: real payloads from its documentation and recordings (tests/data/owntracks)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.clock import FakeClock
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport, StatusReport
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, Decoder, build_decoder
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.rejection import Rejection, RejectReason

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "owntracks"
TOPIC = "owntracks/eric/phone"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _decoder_at(epoch: int) -> tuple[Decoder, FakeClock]:
    clock = FakeClock(datetime.fromtimestamp(epoch + 5, UTC))
    bindings = DeviceBindings({"owntracks:eric/phone": "VAN-1"}, clock=clock)
    return build_decoder(bindings=bindings, clock=clock), clock


def _accept(decoder: Decoder, topic: str, payload: bytes) -> Accepted:
    result = decoder.decode(topic, payload)
    assert isinstance(result, Accepted), result
    return result


def test_recorded_location() -> None:
    decoder, _ = _decoder_at(1546871086)
    report = _accept(decoder, TOPIC, _fixture("location.json")).report
    assert report == PositionReport(
        vehicle_id="VAN-1",
        ts=datetime.fromtimestamp(1546871086, UTC),
        lat=44.2792575,
        lon=11.9055914,
        speed_kmh=0.0,
        heading_deg=None,
        accuracy_m=78.0,
        altitude_m=0.0,
        battery_pct=86.0,
        device_id="eric/phone",
        source="owntracks",
    )


def test_android_location_vel_is_already_kmh() -> None:
    decoder, _ = _decoder_at(1610799026)
    report = _accept(decoder, TOPIC, _fixture("location_android.json")).report
    assert isinstance(report, PositionReport)
    assert report.speed_kmh == 7.0
    assert report.lon == -4.0


def test_numbers_sent_as_strings_by_old_apps() -> None:
    decoder, _ = _decoder_at(1376715317)
    report = _accept(decoder, TOPIC, _fixture("location_string_numbers.json")).report
    assert isinstance(report, PositionReport)
    assert (report.lat, report.lon, report.speed_kmh, report.heading_deg) == (
        48.856826,
        2.292713,
        54.0,
        270.0,
    )
    assert (report.accuracy_m, report.altitude_m, report.battery_pct) == (75.0, 13.0, 64.0)
    assert report.ts == datetime.fromtimestamp(1376715317, UTC)


def test_fields_absent_when_zero_are_simply_unknown() -> None:
    decoder, _ = _decoder_at(1406803894)
    payload = b'{"_type":"location","lat":52.1,"lon":4.3,"tst":1406803894}'
    report = _accept(decoder, TOPIC, payload).report
    assert isinstance(report, PositionReport)
    assert report.speed_kmh is None and report.accuracy_m is None and report.battery_pct is None


@pytest.mark.parametrize("name", ["transition.json", "transition_doc.json"])
def test_transitions_become_arrival_events(name: str) -> None:
    payload = _fixture(name)
    import json

    tst = json.loads(payload)["tst"]
    decoder, _ = _decoder_at(tst)
    report = _accept(decoder, f"{TOPIC}/event", payload).report
    assert isinstance(report, EventReport)
    assert report.kind is DeliveryEventKind.ARRIVED
    assert report.vehicle_id == "VAN-1"
    assert report.extra["region"]
    # Stable id: a QoS 1 redelivery is recognised as the same event.
    again = _accept(decoder, f"{TOPIC}/event", payload).report
    assert isinstance(again, EventReport)
    assert again.event_id == report.event_id


def test_lwt_means_offline_now_not_at_its_tst() -> None:
    decoder, clock = _decoder_at(1380738247 + 86_400 * 3)
    report = _accept(decoder, TOPIC, _fixture("lwt.json")).report
    assert report == StatusReport(
        vehicle_id="VAN-1", ts=clock.now(), online=False, device_id="eric/phone", source="owntracks"
    )


def test_unbound_device_is_rejected_and_remembered() -> None:
    clock = FakeClock(datetime.fromtimestamp(1546871091, UTC))
    seen: list[str] = []
    bindings = DeviceBindings(clock=clock, on_unknown=seen.append)
    decoder = build_decoder(bindings=bindings, clock=clock)
    for _ in range(3):
        result = decoder.decode("owntracks/stranger/phone", _fixture("location.json"))
        assert isinstance(result, Rejection) and result.reason is RejectReason.UNKNOWN_DEVICE
    assert seen == ["owntracks:stranger/phone"] * 3  # each asks for a reload (coalesced)
    [unknown] = bindings.unknown_devices()
    assert (unknown.key, unknown.messages) == ("owntracks:stranger/phone", 3)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b'{"_type":"waypoint","desc":"Home","tst":1}', RejectReason.UNSUPPORTED_TYPE),
        (TOPIC, b'{"_type":"encrypted","data":"xyz"}', RejectReason.ENCRYPTED),
        (TOPIC, b'{"lat":1,"lon":2,"tst":3}', RejectReason.MISSING_FIELD),
        (f"{TOPIC}/cmd", b'{"_type":"cmd"}', RejectReason.UNSUPPORTED_TYPE),
        ("owntracks/eric", b'{"_type":"location"}', RejectReason.UNKNOWN_TOPIC),
        (
            TOPIC,
            b'{"_type":"location","lat":"north","lon":2,"tst":1546871086}',
            RejectReason.WRONG_TYPE,
        ),
    ],
)
def test_what_owntracks_sends_that_we_do_not_use(
    topic: str, payload: bytes, reason: RejectReason
) -> None:
    decoder, _ = _decoder_at(1546871086)
    result = decoder.decode(topic, payload)
    assert isinstance(result, Rejection) and result.reason is reason


def test_old_fixture_is_too_old_for_a_live_console() -> None:
    clock = FakeClock(datetime(2026, 11, 20, tzinfo=UTC))
    bindings = DeviceBindings({"owntracks:eric/phone": "VAN-1"}, clock=clock)
    decoder = build_decoder(bindings=bindings, clock=clock, config=FilterConfig())
    result = decoder.decode(TOPIC, _fixture("location.json"))
    assert isinstance(result, Rejection) and result.reason is RejectReason.TOO_OLD
