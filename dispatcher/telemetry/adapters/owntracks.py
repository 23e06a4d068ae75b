"""OwnTracks (iOS/Android app, also Greenwich/Queclink trackers via qtripp).

Topics ``owntracks/<user>/<device>`` (``_type`` location and lwt) and
``owntracks/<user>/<device>/event`` (``_type`` transition). Units per the OwnTracks booklet:
``vel`` km/h, ``tst`` epoch seconds, ``acc``/``alt`` metres, ``batt`` percent, ``cog``
degrees. Old app versions send numbers as strings, and elements that are zero are left out, so
every optional field may be absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.model.core import DeliveryEventKind, EventReport, StatusReport
from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import (
    build_position,
    load_object,
    number,
    opt_number,
    opt_text,
    req_number,
    timestamp,
)
from dispatcher.telemetry.rejection import PayloadError, RejectReason

_TRANSITIONS = {"enter": DeliveryEventKind.ARRIVED, "leave": DeliveryEventKind.DEPARTED}


class OwnTracksAdapter:
    """Normalizes OwnTracks messages of devices bound to vehicles."""

    name = "owntracks"

    def __init__(self, bindings: DeviceBindings, root: str = "owntracks") -> None:
        self._bindings = bindings
        self._root = root
        self._head = f"{root}/"

    def subscriptions(self) -> list[tuple[str, int]]:
        """Locations and lwt at QoS 0 (a newer fix supersedes a lost one); transitions QoS 1."""
        return [(f"{self._root}/+/+", 0), (f"{self._root}/+/+/event", 1)]

    def accepts(self, topic: str) -> bool:
        return topic.startswith(self._head)

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        return guarded(self.name, topic, lambda: self._parse(topic, payload, received_at))

    def device_key(self, topic: str, payload: bytes) -> str | None:
        """``owntracks:<user>/<device>`` of a message of ours (for the quarantine)."""
        levels = topic.split("/")
        if len(levels) < 3 or not levels[1] or not levels[2]:
            return None
        return device_key(self.name, f"{levels[1]}/{levels[2]}")

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Report:
        levels = topic.split("/")
        if len(levels) not in (3, 4) or not levels[1] or not levels[2]:
            raise PayloadError(RejectReason.UNKNOWN_TOPIC, "expected owntracks/<user>/<device>")
        if len(levels) == 4 and levels[3] != "event":
            raise PayloadError(RejectReason.UNSUPPORTED_TYPE, f"sub-topic {levels[3][:40]!r}")
        obj = load_object(payload)
        kind = obj.get("_type")
        if kind is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "_type is required")
        if kind not in ("location", "transition", "lwt"):
            shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
            raise PayloadError(RejectReason.UNSUPPORTED_TYPE, f"_type {shown!r} is not used")
        device = f"{levels[1]}/{levels[2]}"
        vehicle = self._bindings.resolve(device_key(self.name, device))
        if vehicle is None:
            raise PayloadError(RejectReason.UNKNOWN_DEVICE, f"{self.name}:{device} is not bound")
        build = {"location": _location, "transition": _transition, "lwt": _lwt}[kind]
        return build(obj, vehicle, device, received_at)


def _location(obj: dict[str, Any], vehicle: str, device: str, received_at: datetime) -> Report:
    tst = obj.get("tst")
    if tst is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "tst is required")
    return build_position(
        vehicle,
        timestamp(tst, "tst", strings=True),
        req_number(obj, "lat", strings=True),
        req_number(obj, "lon", strings=True),
        speed_kmh=opt_number(obj, "vel", strings=True),
        heading_deg=opt_number(obj, "cog", strings=True),
        accuracy_m=opt_number(obj, "acc", strings=True),
        altitude_m=opt_number(obj, "alt", strings=True),
        battery_pct=opt_number(obj, "batt", strings=True),
        device_id=device,
        source="owntracks",
    )


def _transition(obj: dict[str, Any], vehicle: str, device: str, received_at: datetime) -> Report:
    event = obj.get("event")
    kind = _TRANSITIONS.get(event) if isinstance(event, str) else None
    if kind is None:
        raise PayloadError(RejectReason.BAD_VALUE, "event must be enter or leave")
    tst = obj.get("tst")
    if tst is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "tst is required")
    ts = timestamp(tst, "tst", strings=True)
    lat, lon = opt_number(obj, "lat", strings=True), opt_number(obj, "lon", strings=True)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    region = opt_text(obj, "desc")
    wtst = obj.get("wtst")
    region_key = region or (str(int(number(wtst, "wtst", strings=True))) if wtst else "")
    extra: dict[str, Any] = {"region": region} if region else {}
    return EventReport(
        vehicle_id=vehicle,
        ts=ts,
        kind=kind,
        # OwnTracks has no message id; this one is stable across QoS 1 redeliveries.
        event_id=f"owntracks:{device}:{int(ts.timestamp())}:{event}:{region_key}"[:128],
        lat=lat,
        lon=lon,
        note=f"{event} {region}" if region else None,
        device_id=device,
        source="owntracks",
        extra=extra,
    )


def _lwt(obj: dict[str, Any], vehicle: str, device: str, received_at: datetime) -> Report:
    # lwt's tst is when the app connected, not when it vanished: stamp it on receipt.
    return StatusReport(
        vehicle_id=vehicle, ts=received_at, online=False, device_id=device, source="owntracks"
    )
