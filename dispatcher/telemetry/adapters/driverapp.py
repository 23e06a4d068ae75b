"""The driver web app's format: ``driverapp/<device id>/{event,position}`` (docs/driver.md).

The web front authenticates the phone first and builds the topic from the *paired* device
id, never from anything the phone says; the payload is then decoded here like any device
message, checked by the same policy (too old, in the future, accuracy, speed) and stored by
the same exactly-once event insert as MQTT events. So a driver app is one more format, not a
second path into the database.

**Clock skew is corrected, not trusted.** Every payload carries ``ts`` (when the driver did
it, by the phone's clock) and ``sent_at`` (the phone's clock when it sent this very
request). ``received_at - sent_at`` is the phone's clock error plus the upload time; it is
added to ``ts``. An action queued offline for an hour keeps its true hour even if the
phone's clock is ten minutes off. ``ts`` later than ``sent_at`` (impossible) is clamped.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dispatcher import limits
from dispatcher.model.core import DeliveryEventKind, EventReport
from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import (
    MS_KMH,
    build_position,
    event_place,
    load_object,
    opt_number,
    opt_text,
    text,
    timestamp,
)
from dispatcher.telemetry.rejection import PayloadError, RejectReason

NAME = "driverapp"
PROTOCOL_VERSION = 1
#: What the app may report; "pod" travels inside "delivered" (its files come with it).
ACTIONS = {
    "arrived": DeliveryEventKind.ARRIVED,
    "delivered": DeliveryEventKind.DELIVERED,
    "failed": DeliveryEventKind.FAILED,
    "picked_up": DeliveryEventKind.PICKED_UP,
}
#: Reason codes of a failed delivery, as the app offers them (label for people).
FAILURE_REASONS = {
    "customer_absent": "Customer not there",
    "address_not_found": "Address not found",
    "customer_refused": "Customer refused",
    "damaged": "Goods damaged",
    "no_access": "No access (gate, code, dog)",
    "other": "Other (see note)",
}
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{4,40}$")


def topic_for(device_id: str, kind: str) -> str:
    """The topic of an authenticated phone's message (built by the server, never sent)."""
    return f"{NAME}/{device_id}/{kind}"


def event_id_for(device_id: str, key: str) -> str:
    """The stored event id of an action: the device's own idempotency key, namespaced by
    the device so one phone can never overwrite or pre-empt another's action."""
    return f"{NAME}:{device_id}:{key}"


class DriverAppAdapter:
    """Parses the driver app's actions and fixes; the vehicle comes from the binding."""

    name = NAME

    def __init__(self, bindings: DeviceBindings) -> None:
        self._bindings = bindings

    def accepts(self, topic: str) -> bool:
        return topic.startswith(f"{NAME}/")

    def device_key(self, topic: str, payload: bytes) -> str | None:
        parts = topic.split("/")
        return device_key(NAME, parts[1]) if len(parts) == 3 and parts[1] else None

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        return guarded(NAME, topic, lambda: self._parse(topic, payload, received_at))

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Report:
        parts = topic.split("/")
        if len(parts) != 3 or not _DEVICE.match(parts[1]) or parts[2] not in ("event", "position"):
            raise PayloadError(RejectReason.UNKNOWN_TOPIC, "expected driverapp/<device>/<kind>")
        device_id, kind = parts[1], parts[2]
        vehicle_id = self._bindings.resolve(device_key(NAME, device_id))
        if vehicle_id is None:
            raise PayloadError(RejectReason.UNKNOWN_DEVICE, "this phone is not paired")
        obj = load_object(payload)
        if obj.get("v") != PROTOCOL_VERSION:
            raise PayloadError(RejectReason.UNSUPPORTED_VERSION, "the app is out of date: reload")
        ts = corrected_time(obj, received_at)
        if kind == "position":
            return _position(vehicle_id, device_id, obj, ts)
        return _event(vehicle_id, device_id, obj, ts)


def corrected_time(obj: dict[str, Any], received_at: datetime) -> datetime:
    """``ts`` moved by the phone's clock error, measured on this request (see module)."""
    raw_ts, raw_sent = obj.get("ts"), obj.get("sent_at")
    if raw_ts is None or raw_sent is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "ts and sent_at are required")
    ts, sent = timestamp(raw_ts, "ts"), timestamp(raw_sent, "sent_at")
    return min(ts, sent) + (received_at - sent)


def _position(vehicle_id: str, device_id: str, obj: dict[str, Any], ts: datetime) -> Report:
    lat, lon = opt_number(obj, "lat"), opt_number(obj, "lon")
    if lat is None or lon is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "lat and lon are required")
    speed = opt_number(obj, "speed_ms")
    return build_position(
        vehicle_id,
        ts,
        lat,
        lon,
        speed_kmh=None if speed is None else speed * MS_KMH,
        heading_deg=opt_number(obj, "heading_deg"),
        accuracy_m=opt_number(obj, "accuracy_m"),
        device_id=device_id,
        source=NAME,
    )


def _event(vehicle_id: str, device_id: str, obj: dict[str, Any], ts: datetime) -> Report:
    action = obj.get("kind")
    kind = ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None:
        raise PayloadError(RejectReason.BAD_VALUE, "unknown action")
    key = obj.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise PayloadError(RejectReason.MISSING_FIELD, "an action needs its idempotency key")
    stop = text(obj.get("stop"), "stop", max_len=limits.ORDER_ID)
    reason = opt_text(obj, "reason", max_len=limits.REASON)
    if kind is DeliveryEventKind.FAILED:
        if reason not in FAILURE_REASONS:
            raise PayloadError(RejectReason.MISSING_FIELD, "a failed delivery needs a reason")
    else:
        reason = None
    extra: dict[str, Any] = {}
    lat, lon = event_place(obj, "lat", "lon", extra)
    accuracy = opt_number(obj, "accuracy_m")
    if accuracy is not None:
        extra["accuracy_m"] = accuracy
    recipient = opt_text(obj, "recipient", max_len=limits.NAME)
    if recipient:
        extra["recipient"] = recipient
    return EventReport(
        vehicle_id=vehicle_id,
        ts=ts,
        kind=kind,
        event_id=event_id_for(device_id, key),
        stop_id=stop,
        reason=reason,
        note=opt_text(obj, "note", max_len=limits.NOTE),
        lat=lat,
        lon=lon,
        device_id=device_id,
        source=NAME,
        extra=extra,
    )
