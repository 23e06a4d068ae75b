"""Property: whatever arrives on whatever topic, every adapter answers a report or a rejection.

Raw bytes exercise the JSON/UTF-8 edges; generated JSON objects built from each format's own
field names (with hostile values: strings for numbers, NaN, huge ints, nested junk) reach the
field checks that random bytes almost never get to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model.core import EventReport, PositionReport, StatusReport
from dispatcher.telemetry import fields
from dispatcher.telemetry.adapters import (
    Adapter,
    HomeAssistantAdapter,
    NativeAdapter,
    OwnTracksAdapter,
    TraccarAdapter,
)
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, build_decoder
from dispatcher.telemetry.rejection import PayloadError, Rejection, RejectReason

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
BINDINGS = DeviceBindings(passthrough=True)
ADAPTERS: list[Adapter] = [
    NativeAdapter("fleet"),
    OwnTracksAdapter(BINDINGS),
    TraccarAdapter(BINDINGS),
    HomeAssistantAdapter(BINDINGS),
]
REPORTS = (PositionReport, EventReport, StatusReport)

TOPICS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "fleet/vehicles/V1/position",
            "fleet/vehicles/V1/event",
            "fleet/vehicles/V1/status",
            "fleet/vehicles//position",
            "fleet/vehicles/V1/route",
            "owntracks/eric/phone",
            "owntracks/eric/phone/event",
            "owntracks/eric",
            "traccar/positions",
            "location/van3",
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["12.5", "1e999", "nan", "2026-11-20T07:00:00Z", "-1", "enter", "online"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "v",
    "ts",
    "lat",
    "lon",
    "speed_kmh",
    "speed_ms",
    "heading_deg",
    "accuracy_m",
    "altitude_m",
    "battery_pct",
    "battery",
    "vehicle_id",
    "device_id",
    "kind",
    "event_id",
    "stop_id",
    "reason",
    "pod_ref",
    "note",
    "state",
    "_type",
    "tst",
    "acc",
    "alt",
    "batt",
    "cog",
    "vel",
    "event",
    "desc",
    "wtst",
    "position",
    "device",
    "latitude",
    "longitude",
    "speed",
    "course",
    "fixTime",
    "valid",
    "outdated",
    "uniqueId",
    "attributes",
    "gps_accuracy",
    "battery_level",
]
OBJECTS = st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=12)


def _is_answer(result: object) -> bool:
    if isinstance(result, Rejection):
        return isinstance(result.reason, RejectReason)
    return isinstance(result, REPORTS)


@given(topic=TOPICS, payload=st.binary(max_size=300))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_on_any_topic_give_a_report_or_a_rejection(topic: str, payload: bytes) -> None:
    for adapter in ADAPTERS:
        if adapter.accepts(topic):
            assert _is_answer(adapter.parse(topic, payload, NOW))
    result = build_decoder(bindings=BINDINGS).decode(topic, payload, NOW)
    assert isinstance(result, Accepted | Rejection)


@given(topic=TOPICS, obj=OBJECTS)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_json_objects_give_a_report_or_a_rejection(
    topic: str, obj: dict[str, object]
) -> None:
    payload = json.dumps(obj).encode()  # NaN/Infinity survive as JSON extensions, as devices send
    for adapter in ADAPTERS:
        assert _is_answer(adapter.parse(topic, payload, NOW))


@given(
    obj=st.fixed_dictionaries(
        {"position": st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8)},
        optional={"device": st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4)},
    )
)
@settings(max_examples=200)
def test_traccar_nested_objects_never_crash(obj: dict[str, object]) -> None:
    payload = json.dumps(obj).encode()
    assert _is_answer(TraccarAdapter(BINDINGS).parse("traccar/positions", payload, NOW))


@given(
    lat=st.floats(), lon=st.floats(), ts=st.one_of(st.floats(), st.integers(), st.text(max_size=30))
)
@settings(max_examples=300)
def test_native_positions_with_any_numbers_never_crash(lat: float, lon: float, ts: object) -> None:
    payload = json.dumps({"v": 1, "ts": ts, "lat": lat, "lon": lon}).encode()
    result = NativeAdapter().parse("fleet/vehicles/V1/position", payload, NOW)
    assert _is_answer(result)
    if isinstance(result, PositionReport):
        assert -90 <= result.lat <= 90 and -180 <= result.lon <= 180
        assert result.ts.tzinfo is not None


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    payload = b"[" * 10_000 + b"]" * 10_000
    result = NativeAdapter().parse("fleet/vehicles/V1/position", payload, NOW)
    assert isinstance(result, Rejection)


def _outcome(load: Callable[[bytes], object], payload: bytes) -> tuple[str, Any]:
    try:
        return ("ok", load(payload))
    except PayloadError as exc:
        return ("rejected", exc.reason)


def _reference_load(payload: bytes) -> dict[str, object]:
    """load_object as it would be without the optional orjson accelerator."""
    if not payload:
        raise PayloadError(RejectReason.EMPTY)
    obj = fields._stdlib_loads(payload)
    if type(obj) is not dict:
        raise PayloadError(RejectReason.NOT_AN_OBJECT)
    return obj


@given(
    payload=st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        OBJECTS.map(lambda o: json.dumps(o).encode()),
        st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
@settings(max_examples=400)
def test_the_json_accelerator_changes_no_outcome(payload: bytes) -> None:
    fast, slow = _outcome(fields.load_object, payload), _outcome(_reference_load, payload)
    if fast[0] == "ok" and slow[0] == "ok":
        # orjson reads integers beyond 64 bits as floats; every reader converts to float anyway
        assert json.dumps(fast[1], sort_keys=True, default=str) == json.dumps(
            slow[1], sort_keys=True, default=str
        ) or _only_big_ints_differ(fast[1], slow[1])
    else:
        assert fast == slow


def _only_big_ints_differ(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_only_big_ints_differ(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            _only_big_ints_differ(x, y) for x, y in zip(a, b, strict=True)
        )
    if isinstance(b, int) and not isinstance(b, bool) and isinstance(a, float):
        return float(b) == a
    return a == b
