"""Names of the native topics, in one place (documented in ``docs/mqtt.md``)."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.errors import ValidationError
from dispatcher.telemetry.adapters.native import valid_id


@dataclass(frozen=True, slots=True)
class NativeTopics:
    """Topic builder for one fleet prefix (default ``fleet``)."""

    prefix: str = "fleet"

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "+#\x00") or self.prefix[-1] == "/":
            raise ValidationError(f"invalid MQTT topic prefix {self.prefix!r}")

    def vehicle(self, vehicle_id: str, kind: str) -> str:
        """``<prefix>/vehicles/<vehicle_id>/<kind>``; refuses ids that are not one level."""
        if not valid_id(vehicle_id):
            raise ValidationError(f"vehicle id {vehicle_id!r} cannot be used in a topic")
        return f"{self.prefix}/vehicles/{vehicle_id}/{kind}"

    def position(self, vehicle_id: str) -> str:
        """Where a vehicle publishes its fixes."""
        return self.vehicle(vehicle_id, "position")

    def event(self, vehicle_id: str) -> str:
        """Where a vehicle publishes delivery events (QoS 1)."""
        return self.vehicle(vehicle_id, "event")

    def status(self, vehicle_id: str) -> str:
        """Retained online/offline status of a vehicle (its last will)."""
        return self.vehicle(vehicle_id, "status")

    def route(self, vehicle_id: str) -> str:
        """Retained current stop sequence, published by the console."""
        return self.vehicle(vehicle_id, "route")

    def cmd(self, vehicle_id: str) -> str:
        """Messages from the dispatcher to the driver."""
        return self.vehicle(vehicle_id, "cmd")

    @property
    def sync(self) -> str:
        """Changes announced to the other workstations."""
        return f"{self.prefix}/console/sync"

    def console_status(self, console_id: str) -> str:
        """Retained online/offline status of one console (its last will)."""
        if not valid_id(console_id):
            raise ValidationError(f"console id {console_id!r} cannot be used in a topic")
        return f"{self.prefix}/console/{console_id}/status"
