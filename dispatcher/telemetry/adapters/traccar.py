"""Traccar forwarding over MQTT: positions (``forward.topic``) and events (``event.forward``).

A Traccar server in front of hardware trackers forwards each position as
``{"position": {...}, "device": {...}}`` on ``positions`` (its default ``forward.topic``),
and each event as ``{"event": {...}, "position": {...}, "device": {...}, "geofence": {...}}``
on ``events`` (``event.forward.topic``), or on the positions topic when both share one. Units
are Traccar's own: ``speed`` in knots, ``course`` degrees, ``fixTime``/``eventTime`` ISO 8601,
``attributes.batteryLevel`` percent (``attributes.battery`` volts). The device is identified
by ``device.uniqueId`` (usually the IMEI), bound to a vehicle like any device.

Events are never mistaken for fixes: ``deviceOnline``/``deviceOffline`` become a status,
``geofenceEnter``/``geofenceExit`` an arrived/departed event (like an OwnTracks transition),
and every other type is refused by name as an event the console does not use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher import limits
from dispatcher.model.core import DeliveryEventKind, EventReport, StatusReport
from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded, not_bound
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import (
    build_position,
    event_place,
    load_object,
    number,
    opt_number,
    opt_text,
    req_number,
    text,
    timestamp,
)
from dispatcher.telemetry.profiles import ProfileBook
from dispatcher.telemetry.rejection import PayloadError, RejectReason

STOCK_TOPICS = ("positions", "traccar/positions")
STOCK_EVENT_TOPICS = ("events", "traccar/events")
_GEOFENCE = {"geofenceEnter": DeliveryEventKind.ARRIVED, "geofenceExit": DeliveryEventKind.DEPARTED}
_STATUS = {"deviceOnline": True, "deviceOffline": False}


class TraccarAdapter:
    """Normalizes Traccar-forwarded positions and events on fixed sets of topics."""

    name = "traccar"

    def __init__(
        self,
        bindings: DeviceBindings,
        topics: tuple[str, ...] = STOCK_TOPICS,
        event_topics: tuple[str, ...] = STOCK_EVENT_TOPICS,
        profiles: ProfileBook | None = None,
    ) -> None:
        self._bindings = bindings
        self._topics = frozenset(topics) | frozenset(event_topics)
        self._position_topics = frozenset(topics)
        self._event_topics = frozenset(event_topics) - self._position_topics
        self._profiles = profiles or ProfileBook()

    def subscriptions(self) -> list[tuple[str, int]]:
        """Positions at QoS 0 (superseded by the next); events at QoS 1."""
        subs = [(topic, 0) for topic in sorted(self._position_topics)]
        return subs + [(topic, 1) for topic in sorted(self._event_topics)]

    def accepts(self, topic: str) -> bool:
        return topic in self._topics

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        return guarded(self.name, topic, lambda: self._parse(topic, payload, received_at))

    def device_key(self, topic: str, payload: bytes) -> str | None:
        """``traccar:<uniqueId>`` when the payload names one (for the quarantine)."""
        try:
            unique = _section(load_object(payload), "device").get("uniqueId")
        except Exception:  # a rejected payload: anything may be wrong with it
            return None
        if isinstance(unique, int) and not isinstance(unique, bool):
            unique = str(unique)
        return (
            device_key(self.name, unique[: limits.DEVICE_ID])
            if isinstance(unique, str) and unique
            else None
        )

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Report:
        obj = load_object(payload)
        if "event" in obj:
            return self._event(obj, received_at)
        if topic in self._event_topics:
            raise PayloadError(
                RejectReason.MISSING_FIELD,
                f"{topic[:60]!r} is a Traccar event topic: event is required",
            )
        return self._position(obj)

    def _device(self, obj: dict[str, Any]) -> tuple[str, str, str]:
        """``(identifier, binding key, vehicle)`` of the forwarding's ``device``."""
        device = _section(obj, "device")
        unique = device.get("uniqueId")
        if unique is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "device.uniqueId is required")
        if isinstance(unique, int) and not isinstance(unique, bool):
            unique = str(unique)
        ident = text(unique, "device.uniqueId", max_len=limits.DEVICE_ID)
        key = device_key(self.name, ident)
        vehicle = self._bindings.resolve(key)
        if vehicle is None:
            raise not_bound(key)
        return ident, key, vehicle

    def _position(self, obj: dict[str, Any]) -> Report:
        position = _section(obj, "position")
        if position.get("valid") is False:
            raise PayloadError(
                RejectReason.INVALID_FIX,
                "Traccar marked the fix invalid (the tracker had no GPS fix and resent a "
                "last known place); check the tracker's antenna and sky view",
            )
        if position.get("outdated") is True:
            raise PayloadError(
                RejectReason.INVALID_FIX,
                "Traccar resent an outdated fix (the tracker reported no new position)",
            )
        ident, key, vehicle = self._device(obj)
        profile = self._profiles.get(self.name, key)
        stamp = position.get("fixTime", position.get("deviceTime"))
        if stamp is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "position.fixTime is required")
        accuracy = opt_number(position, "accuracy")
        attributes = position.get("attributes")
        battery = None
        if isinstance(attributes, dict):
            if profile.battery in ("volts", "auto") and attributes.get("battery") is not None:
                battery = profile.battery_pct(number(attributes["battery"], "battery"))
            elif attributes.get("batteryLevel") is not None:
                battery = number(attributes["batteryLevel"], "batteryLevel")
        return build_position(
            vehicle,
            timestamp(stamp, "position.fixTime"),
            req_number(position, "latitude"),
            req_number(position, "longitude"),
            speed_kmh=profile.speed_kmh(opt_number(position, "speed")),
            heading_deg=opt_number(position, "course"),
            # Traccar reports 0 when the protocol carries no accuracy at all.
            accuracy_m=accuracy or None,
            altitude_m=opt_number(position, "altitude"),
            battery_pct=battery,
            device_id=ident,
            source=self.name,
        )

    def _event(self, obj: dict[str, Any], received_at: datetime) -> Report:
        event = _section(obj, "event")
        kind = event.get("type")
        if not isinstance(kind, str) or not kind:
            raise PayloadError(RejectReason.MISSING_FIELD, "event.type is required")
        shown = kind[:40]
        online = _STATUS.get(kind)
        geofence = _GEOFENCE.get(kind)
        if online is None and geofence is None:
            raise PayloadError(
                RejectReason.UNSUPPORTED_TYPE,
                f"Traccar event {shown!r} is not used (positions are read from the position "
                "forward, forward.topic)",
            )
        ident, _, vehicle = self._device(obj)
        stamp = event.get("eventTime")
        ts = received_at if stamp is None else min(timestamp(stamp, "event.eventTime"), received_at)
        if online is not None:
            return StatusReport(
                vehicle_id=vehicle, ts=ts, online=online, device_id=ident, source=self.name
            )
        assert geofence is not None
        fence = obj.get("geofence")
        region = opt_text(fence, "name", drop_nul=True) if isinstance(fence, dict) else None
        extra: dict[str, Any] = {"region": region} if region else {}
        position = obj.get("position")
        lat = lon = None
        if isinstance(position, dict):
            lat, lon = event_place(position, "latitude", "longitude", extra)
        ident_part = event.get("id")
        if type(ident_part) is not int:
            ident_part = f"{int(ts.timestamp())}:{event.get('geofenceId')}"
        return EventReport(
            vehicle_id=vehicle,
            ts=ts,
            kind=geofence,
            event_id=f"traccar:{ident}:{kind}:{ident_part}"[:128],
            lat=lat,
            lon=lon,
            note=f"{kind} {region}" if region else kind,
            device_id=ident,
            source=self.name,
            extra=extra,
        )


def _section(obj: dict[str, Any], key: str) -> dict[str, Any]:
    section = obj.get(key)
    if section is None:
        raise PayloadError(RejectReason.MISSING_FIELD, f"{key} is required")
    if not isinstance(section, dict):
        raise PayloadError(RejectReason.WRONG_TYPE, f"{key} must be an object")
    return section
