"""The native protocol: ``<prefix>/vehicles/<vehicle_id>/{position,event,status}``.

Documented with JSON Schemas in ``docs/mqtt.md``. Every payload carries ``"v": 1``; the
vehicle id comes from the topic (the broker's ACL makes sure a device may only publish under
its own id), and a payload that names another vehicle is rejected rather than trusted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

from dispatcher import limits
from dispatcher.model.core import DeliveryEventKind, EventReport, StatusReport
from dispatcher.telemetry.adapters.base import ParseResult, Report, unexpected
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import (
    MS_KMH,
    MS_THRESHOLD,
    battery_from_fraction,
    build_position,
    load_object,
    number,
    opt_number,
    opt_text,
    text,
    timestamp,
)
from dispatcher.telemetry.rejection import PayloadError, RejectReason

PROTOCOL_VERSION = 1
#: Longest vehicle id (one topic level); the columns that store it share the limit.
MAX_ID = limits.VEHICLE_ID
TELEMETRY_KINDS = ("position", "event", "status")
CONSOLE_KINDS = ("route", "cmd")
_EVENT_KINDS = {kind.value: kind for kind in DeliveryEventKind}


def valid_id(value: str) -> bool:
    """A vehicle id usable as one topic level: no wildcards, separators or blanks."""
    if not 0 < len(value) <= MAX_ID or value.strip() != value:
        return False
    return not ("/" in value or "+" in value or "#" in value or "\x00" in value)


class NativeAdapter:
    """Parses the console's own protocol under one configurable prefix.

    With ``bindings`` whose ``known_vehicles`` is set (the console and the recorder), only
    ids of the vehicles table are taken as they are; any other id is a device like a phone:
    accepted when ``native:<id>`` is bound to a vehicle, otherwise rejected as
    ``unknown_device`` (and listed to be bound). A made-up id therefore never gets live
    state, filter memory or a history row.
    """

    name = "native"

    def __init__(
        self,
        prefix: str = "fleet",
        bindings: DeviceBindings | None = None,
        *,
        id_cache: int = 100_000,
    ) -> None:
        self._prefix = prefix
        self._head = f"{prefix}/vehicles/"
        self._bindings = bindings
        self._valid_ids: set[str] = set()  # ids repeat on every message: check each once
        self._id_cache = id_cache  # 0 for the preview of unknown ids: they never repeat

    def subscriptions(self) -> list[tuple[str, int]]:
        """Positions and status at QoS 0; delivery events at QoS 1 (acked after commit)."""
        base = f"{self._prefix}/vehicles/+"
        return [(f"{base}/position", 0), (f"{base}/event", 1), (f"{base}/status", 0)]

    def accepts(self, topic: str) -> bool:
        return topic.startswith(self._head)

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        # ``guarded`` inlined: this adapter carries most traffic, and the closure costs.
        try:
            return self._parse(topic, payload, received_at)
        except PayloadError as exc:
            return exc.rejection()
        except Exception as exc:
            return unexpected(self.name, topic, exc)

    def device_key(self, topic: str, payload: bytes) -> str | None:
        """``native:<id>`` of a topic of ours (the quarantine's device), else ``None``."""
        vehicle_id = topic[len(self._head) :].partition("/")[0]
        return device_key(self.name, vehicle_id) if valid_id(vehicle_id) else None

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Report:
        topic_id, _, kind = topic[len(self._head) :].partition("/")
        vehicle_id = topic_id
        bindings = self._bindings
        known = None if bindings is None else bindings.known_vehicles
        if known is not None:
            if topic_id not in known or kind not in TELEMETRY_KINDS:
                vehicle_id = self._foreign(topic_id, kind)
        else:
            if topic_id not in self._valid_ids:
                if not valid_id(topic_id):
                    vehicle_id = ""
                elif self._id_cache:
                    if len(self._valid_ids) >= self._id_cache:
                        self._valid_ids.clear()
                    self._valid_ids.add(topic_id)
            if not vehicle_id or kind not in TELEMETRY_KINDS:
                _bad_topic(kind)
        obj = load_object(payload)
        version = obj.get("v")
        if version != PROTOCOL_VERSION or type(version) is not int:
            _check_version(obj)
        named = obj.get("vehicle_id")
        if named is not None and named != topic_id:
            raise PayloadError(
                RejectReason.VEHICLE_MISMATCH, "payload names another vehicle than the topic"
            )
        if kind == "position":
            return _position(vehicle_id, obj)
        if kind == "event":
            return _event(vehicle_id, obj)
        return _status(vehicle_id, obj, received_at)

    def _foreign(self, topic_id: str, kind: str) -> str:
        """The vehicle of an id outside the vehicles table: a bound ``native:<id>`` device;
        an unbound one is rejected as ``unknown_device``."""
        if not valid_id(topic_id) or kind not in TELEMETRY_KINDS:
            _bad_topic(kind)
        assert self._bindings is not None
        key = device_key(self.name, topic_id)
        vehicle_id = self._bindings.resolve(key)
        if vehicle_id is None:
            raise PayloadError(RejectReason.UNKNOWN_DEVICE, f"{key} is not a known vehicle")
        return vehicle_id


def _bad_topic(kind: str) -> NoReturn:
    if kind in CONSOLE_KINDS:
        raise PayloadError(RejectReason.UNSUPPORTED_TYPE, f"{kind} is console output")
    raise PayloadError(RejectReason.UNKNOWN_TOPIC, "expected vehicles/<id>/<kind>")


def _check_version(obj: dict[str, Any]) -> None:
    version = obj.get("v")
    if version is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "v (protocol version) is required")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PayloadError(RejectReason.WRONG_TYPE, "v must be an integer")
    if version != PROTOCOL_VERSION:
        raise PayloadError(RejectReason.UNSUPPORTED_VERSION, f"protocol version {version}")


def _ts(obj: dict[str, Any]) -> datetime:
    value = obj.get("ts")
    if value is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "ts is required")
    return timestamp(value, "ts")


def _num(obj: dict[str, Any], key: str) -> float | None:
    """``opt_number`` with the common case (a finite float or int) handled inline."""
    value: Any = obj.get(key)
    kind = type(value)
    if kind is float:
        if value - value == 0.0:  # finite (NaN and infinities give NaN)
            return float(value)
    elif kind is int and -(2**53) < value < 2**53:
        return float(value)
    elif value is None:
        return None
    return number(value, key)


def _position(vehicle_id: str, obj: dict[str, Any]) -> Report:
    lat, lon = _num(obj, "lat"), _num(obj, "lon")
    if lat is None or lon is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "lat and lon are required")
    speed = _num(obj, "speed_kmh")
    if speed is None:
        speed_ms = _num(obj, "speed_ms")
        speed = None if speed_ms is None else speed_ms * MS_KMH
    battery = _num(obj, "battery_pct")
    if battery is None:
        fraction = _num(obj, "battery")
        battery = None if fraction is None else battery_from_fraction(fraction)
    stamp = obj.get("ts")
    if type(stamp) is float and 0.0 < stamp < MS_THRESHOLD:
        ts = datetime.fromtimestamp(stamp, UTC)  # the common case, inline
    elif stamp is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "ts is required")
    else:
        ts = timestamp(stamp, "ts")
    device = obj.get("device_id")
    return build_position(
        vehicle_id,
        ts,
        lat,
        lon,
        speed_kmh=speed,
        heading_deg=_num(obj, "heading_deg"),
        accuracy_m=_num(obj, "accuracy_m"),
        altitude_m=_num(obj, "altitude_m"),
        battery_pct=battery,
        device_id=None if device is None else opt_text(obj, "device_id", max_len=limits.DEVICE_ID),
        source="native",
    )


def _event(vehicle_id: str, obj: dict[str, Any]) -> Report:
    raw_kind = obj.get("kind")
    if raw_kind is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "kind is required")
    if not isinstance(raw_kind, str):
        raise PayloadError(RejectReason.WRONG_TYPE, "kind must be a string")
    kind = _EVENT_KINDS.get(raw_kind)
    if kind is None:
        raise PayloadError(RejectReason.BAD_VALUE, f"unknown event kind {raw_kind[:40]!r}")
    event_id = obj.get("event_id")
    if event_id is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "event_id is required")
    reason = opt_text(obj, "reason", max_len=limits.REASON)
    if kind is DeliveryEventKind.FAILED and reason is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "a failed delivery needs a reason")
    pod_ref = opt_text(obj, "pod_ref", max_len=limits.POD_REF)
    if kind is DeliveryEventKind.POD and pod_ref is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "a pod event needs pod_ref")
    lat, lon = opt_number(obj, "lat"), opt_number(obj, "lon")
    if (lat is None) != (lon is None):
        raise PayloadError(RejectReason.MISSING_FIELD, "lat and lon come together")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PayloadError(RejectReason.OUT_OF_RANGE, "lat/lon out of range")
    extra: dict[str, Any] = {}
    if lat is not None and lon is not None and abs(lat) < 1e-7 and abs(lon) < 1e-7:
        # A driver app without a fix sends (0, 0): keep the delivery, not Null Island.
        lat = lon = None
        extra["place_dropped"] = "position (0, 0) is a missing fix"
    return EventReport(
        vehicle_id=vehicle_id,
        ts=_ts(obj),
        kind=kind,
        event_id=text(event_id, "event_id", max_len=limits.EVENT_ID),
        stop_id=opt_text(obj, "stop_id", max_len=limits.ORDER_ID),
        reason=reason,
        pod_ref=pod_ref,
        note=opt_text(obj, "note", max_len=limits.NOTE),
        lat=lat,
        lon=lon,
        device_id=opt_text(obj, "device_id", max_len=limits.DEVICE_ID),
        source="native",
        extra=extra,
    )


def _status(vehicle_id: str, obj: dict[str, Any], received_at: datetime) -> Report:
    state = obj.get("state")
    if state not in ("online", "offline"):
        if state is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "state is required")
        raise PayloadError(RejectReason.BAD_VALUE, "state must be online or offline")
    # A last will is composed at connect time, so it may carry no (or a stale) timestamp:
    # what matters is when the broker announced it.
    ts = received_at if obj.get("ts") is None or state == "offline" else min(_ts(obj), received_at)
    return StatusReport(
        vehicle_id=vehicle_id,
        ts=ts,
        online=state == "online",
        device_id=opt_text(obj, "device_id", max_len=limits.DEVICE_ID),
        source="native",
    )
