"""Home Assistant ``mqtt_json`` device trackers: ``location/<dev_id>``.

The payload is ``{"latitude": .., "longitude": .., "gps_accuracy": .., "battery_level": ..}``
with no timestamp, so the fix is stamped with its receive time. Battery is percent, accuracy
metres. Many hobby trackers and HA automations already publish this shape. Home Assistant
coerces its fields (``vol.Coerce``), so templated automations that send ``"52.37"`` work
there and are accepted here too; a battery level that is not a number is ignored, as Home
Assistant keeps it as text. A plain-text presence state (``home``, ``not_home``, a zone
name) is the other MQTT device tracker's state topic: it carries no place, and is refused
with that said.
"""

from __future__ import annotations

from datetime import datetime

from dispatcher import limits
from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded, not_bound
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import build_position, load_object, opt_number, req_number
from dispatcher.telemetry.profiles import ProfileBook
from dispatcher.telemetry.rejection import PayloadError, RejectReason


class HomeAssistantAdapter:
    """Normalizes ``mqtt_json`` device tracker payloads under one topic root."""

    name = "homeassistant"

    def __init__(
        self,
        bindings: DeviceBindings,
        root: str = "location",
        profiles: ProfileBook | None = None,
    ) -> None:
        self._bindings = bindings
        self._root = root
        self._head = f"{root}/"
        self._profiles = profiles or ProfileBook()

    def subscriptions(self) -> list[tuple[str, int]]:
        """One level below the root, QoS 0."""
        return [(f"{self._root}/+", 0)]

    def accepts(self, topic: str) -> bool:
        return topic.startswith(self._head)

    def parse(self, topic: str, payload: bytes, received_at: datetime) -> ParseResult:
        return guarded(self.name, topic, lambda: self._parse(topic, payload, received_at))

    def device_key(self, topic: str, payload: bytes) -> str | None:
        """The device a message of ours came from (for the quarantine), else ``None``."""
        dev_id = topic[len(self._head) :]
        return device_key(self.name, dev_id) if dev_id and "/" not in dev_id else None

    def _parse(self, topic: str, payload: bytes, received_at: datetime) -> Report:
        dev_id = topic[len(self._head) :]
        if not dev_id or "/" in dev_id or len(dev_id) > limits.DEVICE_ID:
            raise PayloadError(
                RejectReason.UNKNOWN_TOPIC,
                f"{topic[:120]!r}: the console reads {self._root}/<dev_id> (one level, at most "
                f"{limits.DEVICE_ID} characters); publish the tracker's JSON there",
            )
        try:
            obj = load_object(payload)
        except PayloadError as exc:
            if exc.reason in (RejectReason.MALFORMED_JSON, RejectReason.NOT_AN_OBJECT):
                _plain_state(payload)
            raise
        key = device_key(self.name, dev_id)
        vehicle = self._bindings.resolve(key)
        if vehicle is None:
            raise not_bound(key)
        profile = self._profiles.get(self.name, key)
        try:
            battery = opt_number(obj, "battery_level", strings=True)
        except PayloadError:
            battery = None  # Home Assistant keeps a battery level as text ("low", "charging")
        return build_position(
            vehicle,
            received_at,
            req_number(obj, "latitude", strings=True),
            req_number(obj, "longitude", strings=True),
            speed_kmh=profile.speed_kmh(opt_number(obj, "speed", strings=True)),
            heading_deg=opt_number(obj, "course", strings=True),
            accuracy_m=opt_number(obj, "gps_accuracy", strings=True),
            altitude_m=opt_number(obj, "altitude", strings=True),
            battery_pct=profile.battery_pct(battery),
            device_id=dev_id,
            source=self.name,
        )


def _plain_state(payload: bytes) -> None:
    """Refuse a plain-text presence state by name (not as "malformed JSON")."""
    try:
        word = payload.decode("utf-8").strip().strip('"')
    except UnicodeDecodeError:
        return
    if not word or len(word) > 64 or word.startswith(("{", "[")) or _numeric(word):
        return
    raise PayloadError(
        RejectReason.UNSUPPORTED_TYPE,
        f"plain-text state {word[:40]!r} is a Home Assistant presence state, not a position; "
        'publish the mqtt_json payload {"latitude": .., "longitude": .., '
        '"gps_accuracy": ..} on this topic instead',
    )


def _numeric(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True
