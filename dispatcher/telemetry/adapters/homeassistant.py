"""Home Assistant ``mqtt_json`` device trackers: ``location/<dev_id>``.

The payload is ``{"latitude": .., "longitude": .., "gps_accuracy": .., "battery_level": ..}``
with no timestamp, so the fix is stamped with its receive time. Battery is percent, accuracy
metres. Many hobby trackers and HA automations already publish this shape.
"""

from __future__ import annotations

from datetime import datetime

from dispatcher.telemetry.adapters.base import ParseResult, Report, guarded
from dispatcher.telemetry.bindings import DeviceBindings, device_key
from dispatcher.telemetry.fields import build_position, load_object, opt_number, req_number
from dispatcher.telemetry.rejection import PayloadError, RejectReason


class HomeAssistantAdapter:
    """Normalizes ``mqtt_json`` device tracker payloads under one topic root."""

    name = "homeassistant"

    def __init__(self, bindings: DeviceBindings, root: str = "location") -> None:
        self._bindings = bindings
        self._root = root
        self._head = f"{root}/"

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
        if not dev_id or "/" in dev_id or len(dev_id) > 64:
            raise PayloadError(RejectReason.UNKNOWN_TOPIC, f"expected {self._root}/<dev_id>")
        obj = load_object(payload)
        vehicle = self._bindings.resolve(device_key(self.name, dev_id))
        if vehicle is None:
            raise PayloadError(RejectReason.UNKNOWN_DEVICE, f"{self.name}:{dev_id} is not bound")
        return build_position(
            vehicle,
            received_at,
            req_number(obj, "latitude"),
            req_number(obj, "longitude"),
            accuracy_m=opt_number(obj, "gps_accuracy"),
            altitude_m=opt_number(obj, "altitude"),
            battery_pct=opt_number(obj, "battery_level"),
            device_id=dev_id,
            source=self.name,
        )
