"""Traccar position forwarding (``forward.type=mqtt`` / JSON forwarding).

A Traccar server in front of hardware trackers forwards each position as
``{"position": {...}, "device": {...}}``. Traccar's units are its own: ``speed`` in knots,
``course`` degrees, ``fixTime`` ISO 8601, ``attributes.batteryLevel`` percent. The device is
identified by ``device.uniqueId`` (usually the IMEI), bound to a vehicle like any device.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import (
    KNOT_KMH,
    build_position,
    load_object,
    number,
    opt_number,
    req_number,
    text,
    timestamp,
)
from dispatcher.telemetry.rejection import PayloadError, RejectReason


class TraccarAdapter:
    """Normalizes Traccar-forwarded positions on a fixed set of topics."""

    name = "traccar"

    def __init__(self, bindings: DeviceBindings, topics: tuple[str, ...] = ("traccar/positions",)):
        self._bindings = bindings
        self._topics = frozenset(topics)

    def subscriptions(self) -> list[tuple[str, int]]:
        """Positions only, QoS 0."""
        return [(topic, 0) for topic in sorted(self._topics)]

    def accepts(self, topic: str) -> bool:
        return topic in self._topics

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        return guarded(self.name, topic, lambda: self._parse(payload))

    def device_key(self, topic: str, payload: bytes) -> str | None:
        """``traccar:<uniqueId>`` when the payload names one (for the quarantine)."""
        try:
            unique = _section(load_object(payload), "device").get("uniqueId")
        except Exception:  # a rejected payload: anything may be wrong with it
            return None
        if isinstance(unique, int) and not isinstance(unique, bool):
            unique = str(unique)
        return device_key(self.name, unique[:64]) if isinstance(unique, str) and unique else None

    def _parse(self, payload: bytes) -> Report:
        obj = load_object(payload)
        position, device = _section(obj, "position"), _section(obj, "device")
        unique = device.get("uniqueId")
        if unique is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "device.uniqueId is required")
        if isinstance(unique, int) and not isinstance(unique, bool):
            unique = str(unique)
        ident = text(unique, "device.uniqueId", max_len=64)
        if position.get("valid") is False:
            raise PayloadError(RejectReason.INVALID_FIX, "Traccar marked the fix invalid")
        if position.get("outdated") is True:
            raise PayloadError(RejectReason.INVALID_FIX, "Traccar resent an outdated fix")
        vehicle = self._bindings.resolve(device_key(self.name, ident))
        if vehicle is None:
            raise PayloadError(RejectReason.UNKNOWN_DEVICE, f"{self.name}:{ident} is not bound")
        stamp = position.get("fixTime", position.get("deviceTime"))
        if stamp is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "position.fixTime is required")
        knots = opt_number(position, "speed")
        accuracy = opt_number(position, "accuracy")
        attributes = position.get("attributes")
        battery = None
        if isinstance(attributes, dict) and attributes.get("batteryLevel") is not None:
            battery = number(attributes["batteryLevel"], "batteryLevel")
        return build_position(
            vehicle,
            timestamp(stamp, "position.fixTime"),
            req_number(position, "latitude"),
            req_number(position, "longitude"),
            speed_kmh=None if knots is None else knots * KNOT_KMH,
            heading_deg=opt_number(position, "course"),
            # Traccar reports 0 when the protocol carries no accuracy at all.
            accuracy_m=accuracy or None,
            altitude_m=opt_number(position, "altitude"),
            battery_pct=battery,
            device_id=ident,
            source=self.name,
        )


def _section(obj: dict[str, Any], key: str) -> dict[str, Any]:
    section = obj.get(key)
    if section is None:
        raise PayloadError(RejectReason.MISSING_FIELD, f"{key} is required")
    if not isinstance(section, dict):
        raise PayloadError(RejectReason.WRONG_TYPE, f"{key} must be an object")
    return section
