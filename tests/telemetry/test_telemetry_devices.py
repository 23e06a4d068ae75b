"""Real devices in their stock setups: Traccar's forwarders, OwnTracks phones and Greenwich
trackers, Home Assistant trackers; the ``[telemetry]`` section that configures them.

Payload shapes are written from the public formats: Traccar's MQTT position forward
(``{"position": {...}, "device": {...}}``) and event forward (``{"event": {...}, ...}``),
the OwnTracks booklet's location/transition JSON (iPhone in significant-change mode, a
Greenwich tracker's all-string payload), Home Assistant's ``mqtt_json`` device tracker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.clock import FakeClock
from dispatcher.errors import ConfigError, ValidationError
from dispatcher.model.core import DeliveryEventKind, EventReport, PositionReport, StatusReport
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, Decoder, build_decoder
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook
from dispatcher.telemetry.rejection import Rejection, RejectReason
from dispatcher.telemetry.settings import TelemetrySettings

DEVICES = Path(__file__).resolve().parent.parent / "data" / "devices"
OT = "owntracks/eric/phone"


def payload(name: str) -> bytes:
    return (DEVICES / name).read_bytes()


def accepted(result: Accepted | Rejection) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def rejected(result: Accepted | Rejection, reason: RejectReason) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason is reason, result
    return result


# -- [telemetry] topics: stock defaults and settings ----------------------------------------


def test_traccar_stock_forward_topic_positions_is_accepted(decoder: Decoder) -> None:
    report = accepted(decoder.decode("positions", payload("traccar_position.json"))).report
    assert isinstance(report, PositionReport)
    assert report.vehicle_id == "VAN-2"
    assert report.speed_kmh == pytest.approx(10.799 * 1.852)  # knots on the wire
    assert report.battery_pct == 87.0
    # the earlier documented topic still works
    again = payload("traccar_position.json").replace(b"06:59:55", b"06:59:56")
    accepted(decoder.decode("traccar/positions", again))


def test_subscriptions_cover_the_stock_topics(decoder: Decoder) -> None:
    subs = dict(decoder.subscriptions())
    assert subs["positions"] == 0 and subs["events"] == 1
    assert subs["owntracks/+/+"] == 0 and subs["owntracks/+/+/event"] == 1
    assert subs["location/+"] == 0


def test_telemetry_section_topics_reach_the_decoder(
    clock: FakeClock, bindings: DeviceBindings
) -> None:
    telemetry = TelemetrySettings.from_mapping(
        {
            "traccar_topics": ["gps/forward"],
            "traccar_event_topics": "gps/events",
            "owntracks_root": "ot",
            "homeassistant_root": "ha/location",
        }
    )
    decoder = build_decoder(clock=clock, bindings=bindings, telemetry=telemetry)
    accepted(decoder.decode("gps/forward", payload("traccar_position.json")))
    accepted(decoder.decode("gps/events", payload("traccar_device_online.json")))
    rejected(
        decoder.decode("positions", payload("traccar_position.json")), RejectReason.UNKNOWN_TOPIC
    )
    accepted(decoder.decode("ot/eric/phone", payload("owntracks_iphone_significant.json")))
    accepted(decoder.decode("ha/location/van3", payload("homeassistant_strings.json")))
    subs = dict(decoder.subscriptions())
    assert subs == {
        "fleet/vehicles/+/position": 0,
        "fleet/vehicles/+/event": 1,
        "fleet/vehicles/+/status": 0,
        "ot/+/+": 0,
        "ot/+/+/event": 1,
        "gps/forward": 0,
        "gps/events": 1,
        "ha/location/+": 0,
    }


def test_a_traccar_topic_under_another_format_s_root_reaches_traccar(
    clock: FakeClock, bindings: DeviceBindings
) -> None:
    telemetry = TelemetrySettings.from_mapping({"traccar_topics": ["owntracks/traccar/gps"]})
    decoder = build_decoder(clock=clock, bindings=bindings, telemetry=telemetry)
    result = accepted(decoder.decode("owntracks/traccar/gps", payload("traccar_position.json")))
    assert result.adapter == "traccar"


def test_telemetry_section_filter_limits_and_profiles() -> None:
    telemetry = TelemetrySettings.from_mapping(
        {
            "coarse_accuracy_m": 200,
            "max_accuracy_m": 20000,
            "max_payload_bytes": 4096,
            "traccar": {"speed": "kmh"},
            "owntracks": {"battery": "volts", "volts_empty": 11.8, "volts_full": 12.7},
        }
    )
    assert telemetry.filters.coarse_accuracy_m == 200.0
    assert telemetry.filters.max_accuracy_m == 20000.0
    assert telemetry.filters.max_payload_bytes == 4096
    assert telemetry.profiles["traccar"] == DeviceProfile(battery="percent", speed="kmh")
    assert telemetry.profiles["owntracks"].volts_full == 12.7
    assert (
        TelemetrySettings.from_mapping({"coarse_accuracy_m": False}).filters.coarse_accuracy_m
        is None
    )


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"traccar_topic": "positions"}, "unknown setting 'traccar_topic'"),
        ({"traccar_topics": ["gps/#"]}, "must not contain + or #"),
        ({"owntracks_root": "owntracks/"}, "empty topic level"),
        ({"traccar_topics": 5}, "list of topics"),
        ({"owntracks": {"battery": "mAh"}}, "battery must be one of"),
        ({"traccar": {"speed": "furlongs"}}, "speed must be one of"),
        ({"traccar": {"colour": "red"}}, "unknown setting 'colour'"),
        ({"homeassistant": "percent"}, "must be a table"),
        ({"owntracks": {"volts_empty": 5, "volts_full": 4}}, "volts_empty must be below"),
        ({"max_payload_bytes": 1.5}, "whole number"),
        ({"max_age_s": -1}, "non-negative"),
    ],
)
def test_telemetry_section_errors_name_the_setting(section: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match="telemetry") as info:
        TelemetrySettings.from_mapping(section)
    assert words in str(info.value)


# -- Traccar events ----------------------------------------------------------------------


def test_traccar_device_online_is_a_status_not_a_missing_position(decoder: Decoder) -> None:
    result = accepted(decoder.decode("events", payload("traccar_device_online.json")))
    report = result.report
    assert isinstance(report, StatusReport) and report.online
    assert report.vehicle_id == "VAN-2"


def test_traccar_geofence_exit_is_an_event_not_a_fresh_fix(decoder: Decoder) -> None:
    # On the positions topic, as when both forwarders share one topic.
    for topic in ("events", "positions"):
        report = accepted(decoder.decode(topic, payload("traccar_geofence_exit.json"))).report
        assert isinstance(report, EventReport)
        assert report.kind is DeliveryEventKind.DEPARTED
        assert report.extra["region"] == "Depot North"
        assert (report.lat, report.lon) == (52.3702, 4.8952)
        assert report.event_id == "traccar:356938035643809:geofenceExit:5512"


def test_traccar_other_events_are_refused_by_name(decoder: Decoder) -> None:
    result = rejected(
        decoder.decode("positions", payload("traccar_ignition_on.json")),
        RejectReason.UNSUPPORTED_TYPE,
    )
    assert "Traccar event 'ignitionOn'" in result.detail


def test_traccar_geofence_event_at_null_island_keeps_the_event_without_the_place(
    decoder: Decoder,
) -> None:
    raw = payload("traccar_geofence_exit.json").replace(b'"latitude": 52.3702', b'"latitude": 0')
    raw = raw.replace(b'"longitude": 4.8952', b'"longitude": 0')
    report = accepted(decoder.decode("events", raw)).report
    assert isinstance(report, EventReport)
    assert report.lat is None and report.lon is None
    assert "(0, 0)" in report.extra["place_dropped"]


def test_traccar_invalid_fix_says_what_to_check(decoder: Decoder) -> None:
    raw = payload("traccar_position.json").replace(b'"valid": true', b'"valid": false')
    result = rejected(decoder.decode("positions", raw), RejectReason.INVALID_FIX)
    assert "no GPS fix" in result.detail


# -- null island and bounds on every message with a place --------------------------------


def test_owntracks_transition_at_null_island_is_not_stored_there(decoder: Decoder) -> None:
    raw = payload("owntracks_transition_null_island.json")
    report = accepted(decoder.decode(f"{OT}/event", raw)).report
    assert isinstance(report, EventReport) and report.kind is DeliveryEventKind.ARRIVED
    assert report.lat is None and report.lon is None
    assert report.extra["region"] == "Depot North"
    assert "missing fix" in report.extra["place_dropped"]


def test_owntracks_transition_out_of_range_is_dropped_with_the_reason(decoder: Decoder) -> None:
    raw = payload("owntracks_transition_null_island.json").replace(b'"lat":0', b'"lat":"91.5"')
    report = accepted(decoder.decode(f"{OT}/event", raw)).report
    assert isinstance(report, EventReport) and report.lat is None
    assert "out of range" in report.extra["place_dropped"]


def test_native_event_at_null_island_keeps_the_delivery(decoder: Decoder) -> None:
    raw = (
        b'{"v":1,"event_id":"e-1","kind":"delivered","ts":"2026-11-20T06:59:00Z",'
        b'"stop_id":"S-1","lat":0,"lon":0}'
    )
    report = accepted(decoder.decode("fleet/vehicles/VAN-7/event", raw)).report
    assert isinstance(report, EventReport) and report.kind is DeliveryEventKind.DELIVERED
    assert report.lat is None and report.lon is None


@pytest.mark.parametrize(
    ("topic", "raw"),
    [
        ("location/van3", b'{"latitude": 0, "longitude": 0, "gps_accuracy": 10}'),
        ("location/van3", b'{"latitude": "0.0", "longitude": "0.0"}'),
        (OT, b'{"_type":"location","lat":"0","lon":"0","tst":"1795157990"}'),
    ],
)
def test_null_island_positions_of_every_format(decoder: Decoder, topic: str, raw: bytes) -> None:
    rejected(decoder.decode(topic, raw), RejectReason.NULL_ISLAND)


# -- Home Assistant --------------------------------------------------------------------


def test_homeassistant_string_numbers_are_coerced_as_home_assistant_does(
    decoder: Decoder,
) -> None:
    report = accepted(decoder.decode("location/van3", payload("homeassistant_strings.json"))).report
    assert isinstance(report, PositionReport)
    assert (report.lat, report.lon, report.accuracy_m) == (52.3702, 4.8952, 12.0)
    assert report.battery_pct == 87.0


def test_homeassistant_text_battery_level_is_ignored_not_fatal(decoder: Decoder) -> None:
    raw = b'{"latitude": 52.37, "longitude": 4.89, "battery_level": "charging"}'
    report = accepted(decoder.decode("location/van3", raw)).report
    assert isinstance(report, PositionReport) and report.battery_pct is None


@pytest.mark.parametrize("state", [b"home", b"not_home", b'"Depot"', b"home\n"])
def test_homeassistant_plain_text_state_says_what_it_is(decoder: Decoder, state: bytes) -> None:
    result = rejected(decoder.decode("location/van3", state), RejectReason.UNSUPPORTED_TYPE)
    assert "presence state, not a position" in result.detail
    assert "latitude" in result.detail


def test_homeassistant_broken_json_is_still_malformed(decoder: Decoder) -> None:
    rejected(decoder.decode("location/van3", b'{"latitude": 52.3'), RejectReason.MALFORMED_JSON)


# -- OwnTracks reasons -----------------------------------------------------------------


def test_owntracks_three_level_device_name_says_what_to_change(decoder: Decoder) -> None:
    raw = payload("owntracks_iphone_significant.json")
    result = rejected(
        decoder.decode("owntracks/aFamily/father/iPhone", raw), RejectReason.UNKNOWN_TOPIC
    )
    assert "owntracks/aFamily/father/iPhone" in result.detail
    assert "3 levels" in result.detail
    assert "'father-iPhone'" in result.detail


def test_owntracks_encrypted_payload_says_encryption_is_on(decoder: Decoder) -> None:
    raw = b'{"_type":"encrypted","data":"Gl0cO7GkH3xv0c2bTqz1Jf8l3w=="}'
    result = rejected(decoder.decode(OT, raw), RejectReason.ENCRYPTED)
    assert "encryption on" in result.detail and "clear the encryption key" in result.detail


@pytest.mark.parametrize(
    ("topic", "raw", "words"),
    [
        (f"{OT}/waypoint", b'{"_type":"waypoint","desc":"Home","tst":1}', "'waypoint'"),
        (f"{OT}/status", b'{"_type":"status","iOS":{}}', "'status'"),
        (f"{OT}/event", b'{"_type":"location","lat":1,"lon":2,"tst":3}', "sub-topic 'event'"),
        (OT, b'{"_type":"transition","event":"enter","tst":3}', "<user>/<device>/event"),
        ("owntracks/acme/van17/voltage/batt", b"4.4", "Greenwich tracker's status topic"),
        ("owntracks/acme/van17/hw", b"Cinterion,EGS5-X,REVISION 02.004", "'hw'"),
        ("location/van3/attributes", b'{"latitude": 1, "longitude": 2}', "location/<dev_id>"),
    ],
)
def test_owntracks_other_messages_are_named(
    decoder: Decoder, topic: str, raw: bytes, words: str
) -> None:
    result = decoder.decode(topic, raw)
    assert isinstance(result, Rejection) and words in result.detail


# -- profiles: battery and speed units ---------------------------------------------------


def test_greenwich_battery_voltage_is_not_read_as_percent(clock: FakeClock) -> None:
    bindings = DeviceBindings({"owntracks:acme/van17": "VAN-17"}, clock=clock)
    decoder = build_decoder(clock=clock, bindings=bindings)
    report = accepted(decoder.decode("owntracks/acme/van17", payload("greenwich_location.json")))
    fix = report.report
    assert isinstance(fix, PositionReport)
    assert fix.battery_pct == pytest.approx(50.0)  # 3.8 V between 3.4 and 4.2 V
    assert fix.speed_kmh == pytest.approx(46.5315)
    assert (fix.lat, fix.lon) == (48.858334, 2.295134)


def test_phone_battery_percent_stays_percent(decoder: Decoder) -> None:
    fix = accepted(decoder.decode(OT, payload("owntracks_iphone_significant.json"))).report
    assert isinstance(fix, PositionReport) and fix.battery_pct == 54.0


def test_a_device_profile_overrides_its_format(clock: FakeClock) -> None:
    bindings = DeviceBindings({"owntracks:acme/van17": "VAN-17"}, clock=clock)
    book = ProfileBook()
    decoder = build_decoder(clock=clock, bindings=bindings, profiles=book)
    raw = payload("greenwich_location.json").replace(b'"batt":"3.8"', b'"batt":"12.4"')
    fix = accepted(decoder.decode("owntracks/acme/van17", raw)).report
    assert isinstance(fix, PositionReport)
    assert fix.battery_pct == pytest.approx(66.7, abs=0.1)  # a 12 V battery: 11.8-12.7 V
    book.set(
        "owntracks:acme/van17",
        DeviceProfile(battery="volts", speed="knots", volts_empty=11.8, volts_full=12.8),
    )
    fix = accepted(
        decoder.decode("owntracks/acme/van17", raw.replace(b"1795157990", b"1795157991"))
    ).report
    assert isinstance(fix, PositionReport)
    assert fix.battery_pct == pytest.approx(60.0)
    assert fix.speed_kmh == pytest.approx(46.5315 * 1.852)
    book.set("owntracks:acme/van17", None)
    assert book.get("owntracks", "owntracks:acme/van17").battery == "auto"


def test_traccar_profile_reads_a_voltage_attribute(
    clock: FakeClock, bindings: DeviceBindings
) -> None:
    book = ProfileBook(
        {"traccar": DeviceProfile(battery="volts", speed="knots", volts_empty=3.5, volts_full=4.1)}
    )
    decoder = build_decoder(clock=clock, bindings=bindings, profiles=book)
    raw = payload("traccar_position.json").replace(
        b'"batteryLevel": 87.0', b'"battery": 3.8, "power": 12.6'
    )
    fix = accepted(decoder.decode("positions", raw)).report
    assert isinstance(fix, PositionReport) and fix.battery_pct == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("profile", "value", "expected"),
    [
        (DeviceProfile(battery="percent"), 81.0, 81.0),
        (DeviceProfile(battery="fraction"), 0.81, 81.0),
        (DeviceProfile(battery="auto"), 81.0, 81.0),
        (DeviceProfile(battery="auto"), 4.2, 100.0),
        (DeviceProfile(battery="auto"), 3.8, 50.0),
        (DeviceProfile(battery="auto"), 12.25, 50.0),
        (DeviceProfile(battery="auto"), 24.5, 50.0),
        (DeviceProfile(battery="auto"), 48.3, None),  # no battery level we can tell
        (DeviceProfile(battery="volts"), 3.0, 0.0),
        (DeviceProfile(battery="volts"), -1.0, -1.0),  # "unknown" stays unknown downstream
    ],
)
def test_battery_units(profile: DeviceProfile, value: float, expected: float | None) -> None:
    assert profile.battery_pct(value) == (None if expected is None else pytest.approx(expected))


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ValidationError):
        DeviceProfile(battery="mAh")
    with pytest.raises(ValidationError):
        DeviceProfile(speed="mach")


# -- coarse fixes ----------------------------------------------------------------------


def test_iphone_significant_change_cell_fix_is_kept_as_coarse(decoder: Decoder) -> None:
    fix = accepted(decoder.decode(OT, payload("owntracks_iphone_significant.json"))).report
    assert isinstance(fix, PositionReport)
    assert fix.coarse and fix.accuracy_m == 1414.0
    assert fix.tracking_mode == "significant"


def test_a_gps_fix_is_not_coarse_and_move_mode_is_read(decoder: Decoder) -> None:
    raw = payload("owntracks_iphone_significant.json").replace(b'"acc":1414', b'"acc":8')
    fix = accepted(decoder.decode(OT, raw.replace(b'"m":1', b'"m":2'))).report
    assert isinstance(fix, PositionReport) and not fix.coarse
    assert fix.tracking_mode == "move"


def test_coarse_threshold_and_rejection_come_from_the_section(
    clock: FakeClock, bindings: DeviceBindings
) -> None:
    telemetry = TelemetrySettings.from_mapping({"coarse_accuracy_m": 2000, "max_accuracy_m": 5000})
    decoder = build_decoder(clock=clock, bindings=bindings, telemetry=telemetry)
    raw = payload("owntracks_iphone_significant.json")
    fix = accepted(decoder.decode(OT, raw)).report
    assert isinstance(fix, PositionReport) and not fix.coarse  # 1414 m is below 2000 m
    far = raw.replace(b'"acc":1414', b'"acc":6000').replace(b"1795157990", b"1795157991")
    rejected(decoder.decode(OT, far), RejectReason.POOR_ACCURACY)


# -- every rejection a device can cause says what arrived and what to change --------------


@pytest.mark.parametrize(
    ("topic", "raw", "reason", "words"),
    [
        (
            "owntracks/stranger/phone",
            payload("owntracks_iphone_significant.json"),
            RejectReason.UNKNOWN_DEVICE,
            ["owntracks:stranger/phone", "bind it"],
        ),
        (
            "traccar/position",
            payload("traccar_position.json"),
            RejectReason.UNKNOWN_TOPIC,
            ["'traccar/position'", "positions", "owntracks/+/+", "[telemetry]"],
        ),
        (
            OT,
            payload("owntracks_iphone_significant.json").replace(b"1795157990", b"1795167990"),
            RejectReason.IN_FUTURE,
            ["ahead of the console", "clock"],
        ),
        (
            OT,
            payload("owntracks_iphone_significant.json").replace(b"1795157990", b"1794157990"),
            RejectReason.TOO_OLD,
            ["h old", "clock"],
        ),
        (
            OT,
            payload("owntracks_iphone_significant.json").replace(b'"batt":54', b'"batt":412'),
            RejectReason.OUT_OF_RANGE,
            ["412%", "volts"],
        ),
        (
            "positions",
            payload("traccar_position.json").replace(b'"speed": 10.799', b'"speed": 300'),
            RejectReason.OUT_OF_RANGE,
            ["556 km/h", "speed unit"],
        ),
        (
            OT,
            b'{"_type":"location","lat":0,"lon":0,"tst":1795157990}',
            RejectReason.NULL_ISLAND,
            ["(0, 0)", "no GPS fix"],
        ),
    ],
)
def test_rejections_say_what_arrived_and_what_to_change(
    decoder: Decoder, topic: str, raw: bytes, reason: RejectReason, words: list[str]
) -> None:
    result = rejected(decoder.decode(topic, raw), reason)
    for word in words:
        assert word in result.detail, (word, result.detail)
