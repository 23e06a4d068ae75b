"""OwnTracks (iOS/Android app, also Greenwich/Queclink trackers via qtripp).

Topics ``owntracks/<user>/<device>`` (``_type`` location and lwt) and
``owntracks/<user>/<device>/event`` (``_type`` transition). Units per the OwnTracks booklet:
``vel`` km/h, ``tst`` epoch seconds, ``acc``/``alt`` metres, ``batt`` percent, ``cog``
degrees. Old app versions and Greenwich trackers send numbers as strings, and elements that
are zero are left out, so every optional field may be absent. Greenwich trackers send
``batt`` as a voltage: the device's profile (:mod:`dispatcher.telemetry.profiles`) says how
to read it. ``m`` is the app's monitoring mode; it travels with the fix because it explains
coarse fixes (significant-change mode) and tells the dispatcher what to switch.
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
    timestamp,
)
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook
from dispatcher.telemetry.rejection import PayloadError, RejectReason

_TRANSITIONS = {"enter": DeliveryEventKind.ARRIVED, "leave": DeliveryEventKind.DEPARTED}
#: OwnTracks ``m`` (iOS and Android alike).
MODES = {-1: "quiet", 0: "manual", 1: "significant", 2: "move"}
#: Sub-topics the apps publish besides ``event``, none of which carries a fix we use.
_SUB_TOPICS = frozenset(
    {"cmd", "step", "steps", "beacon", "dump", "status", "waypoint", "waypoints", "info", "msg"}
)
_ENCRYPTED = (
    "the phone has payload encryption on (OwnTracks: Settings > Encryption key); the console "
    "cannot read encrypted payloads: clear the encryption key on the phone and use TLS instead"
)


class OwnTracksAdapter:
    """Normalizes OwnTracks messages of devices bound to vehicles."""

    name = "owntracks"

    def __init__(
        self,
        bindings: DeviceBindings,
        root: str = "owntracks",
        profiles: ProfileBook | None = None,
    ) -> None:
        self._bindings = bindings
        self._root = root
        self._head = f"{root}/"
        self._depth = root.count("/") + 1
        self._profiles = profiles or ProfileBook()

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
        levels = topic.split("/")[self._depth :]
        if len(levels) < 2 or not all(0 < len(level) <= limits.DEVICE_ID for level in levels):
            raise PayloadError(RejectReason.UNKNOWN_TOPIC, f"expected {self._root}/<user>/<device>")
        obj = _load(payload, levels)
        kind = obj.get("_type")
        if kind is None:
            raise PayloadError(RejectReason.MISSING_FIELD, "_type is required")
        if kind == "encrypted":
            raise PayloadError(RejectReason.ENCRYPTED, _ENCRYPTED)
        expected = levels[2:] == ["event"] if kind == "transition" else len(levels) == 2
        if not expected and kind in ("location", "lwt", "transition"):
            raise PayloadError(RejectReason.UNKNOWN_TOPIC, _misplaced(topic, levels, kind))
        if kind not in ("location", "transition", "lwt"):
            shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
            where = f" on sub-topic {levels[2][:40]!r}" if len(levels) > 2 else ""
            raise PayloadError(
                RejectReason.UNSUPPORTED_TYPE,
                f"OwnTracks _type {shown!r}{where} carries no fix or transition; not used",
            )
        device = f"{levels[0]}/{levels[1]}"
        key = device_key(self.name, device)
        vehicle = self._bindings.resolve(key)
        if vehicle is None:
            raise not_bound(key)
        if kind == "location":
            return _location(obj, vehicle, device, self._profiles.get(self.name, key))
        if kind == "transition":
            return _transition(obj, vehicle, device)
        # lwt's tst is when the app connected, not when it vanished: stamp it on receipt.
        return StatusReport(
            vehicle_id=vehicle, ts=received_at, online=False, device_id=device, source=self.name
        )


def _load(payload: bytes, levels: list[str]) -> dict[str, Any]:
    """The JSON object; a plain value on a sub-topic is a Greenwich tracker's status topic."""
    try:
        return load_object(payload)
    except PayloadError as exc:
        plain = exc.reason in (RejectReason.MALFORMED_JSON, RejectReason.NOT_AN_OBJECT)
        if not plain or len(levels) < 3:
            raise
        sub = "/".join(levels[2:])[:60]
        raise PayloadError(
            RejectReason.UNSUPPORTED_TYPE,
            f"a plain value on sub-topic {sub!r} (a Greenwich tracker's status topic such as "
            "voltage/batt or hw) carries no fix; not used",
        ) from None


def _misplaced(topic: str, levels: list[str], kind: str) -> str:
    """Why a location/lwt/transition on the wrong topic shape is refused, and the fix."""
    shown = topic[:120]
    if kind == "transition":
        return f"an OwnTracks transition on {shown!r}: expected <user>/<device>/event"
    if len(levels) == 3 and (levels[2] in _SUB_TOPICS or levels[2] == "event"):
        return f"an OwnTracks {kind} on sub-topic {levels[2]!r}: expected <user>/<device>"
    return (
        f"an OwnTracks {kind} on {shown!r}: its user/device name has {len(levels)} levels, "
        "the console reads owntracks/<user>/<device> (one level each, as the OwnTracks "
        "recorder does); in the app set the User ID and Device ID without '/' "
        f"(e.g. {'-'.join(levels[-2:])[:40]!r})"
    )


def _location(obj: dict[str, Any], vehicle: str, device: str, profile: DeviceProfile) -> Report:
    tst = obj.get("tst")
    if tst is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "tst is required")
    mode = obj.get("m")
    return build_position(
        vehicle,
        timestamp(tst, "tst", strings=True),
        req_number(obj, "lat", strings=True),
        req_number(obj, "lon", strings=True),
        speed_kmh=profile.speed_kmh(opt_number(obj, "vel", strings=True)),
        heading_deg=opt_number(obj, "cog", strings=True),
        accuracy_m=opt_number(obj, "acc", strings=True),
        altitude_m=opt_number(obj, "alt", strings=True),
        battery_pct=profile.battery_pct(opt_number(obj, "batt", strings=True)),
        device_id=device,
        source="owntracks",
        tracking_mode=MODES.get(mode) if type(mode) is int else None,
    )


def _transition(obj: dict[str, Any], vehicle: str, device: str) -> Report:
    event = obj.get("event")
    kind = _TRANSITIONS.get(event) if isinstance(event, str) else None
    if kind is None:
        raise PayloadError(RejectReason.BAD_VALUE, "event must be enter or leave")
    tst = obj.get("tst")
    if tst is None:
        raise PayloadError(RejectReason.MISSING_FIELD, "tst is required")
    ts = timestamp(tst, "tst", strings=True)
    region = opt_text(obj, "desc", drop_nul=True)
    extra: dict[str, Any] = {"region": region} if region else {}
    lat, lon = event_place(obj, "lat", "lon", extra)
    wtst = obj.get("wtst")
    region_key = region or (str(int(number(wtst, "wtst", strings=True))) if wtst else "")
    return EventReport(
        vehicle_id=vehicle,
        ts=ts,
        kind=kind,
        # OwnTracks has no message id; this one is stable across QoS 1 redeliveries.
        event_id=limits.fit_key(
            f"owntracks:{device}:{int(ts.timestamp())}:{event}:{region_key}", limits.EVENT_ID
        ),
        lat=lat,
        lon=lon,
        note=f"{event} {region}" if region else None,
        device_id=device,
        source="owntracks",
        extra=extra,
    )
