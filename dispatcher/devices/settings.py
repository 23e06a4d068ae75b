"""The ``[telemetry]`` section: how long silent vehicles are remembered, how much is kept.

```toml
[telemetry]
evict_after_s = 21600          # forget a vehicle's live state after 6 h without a message
unknown_devices = 1000         # unbound devices remembered (memory and database)
quarantine_per_device = 20     # rejected messages kept per device
quarantine_total = 5000        # rejected messages kept in all
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dispatcher.config import Settings
from dispatcher.devices.registry import RegistryLimits
from dispatcher.errors import ConfigError

DEFAULT_EVICT_AFTER_S = 6 * 3600.0
_INTS = ("unknown_devices", "quarantine_per_device", "quarantine_total")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """Eviction of silent vehicles and the bounds of the device registry."""

    evict_after_s: float = DEFAULT_EVICT_AFTER_S
    limits: RegistryLimits = field(default_factory=RegistryLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> TelemetrySettings:
        """Validate ``settings.sections["telemetry"]``; a wrong key or value is a ConfigError."""
        return cls.from_mapping(settings.sections.get("telemetry", {}))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> TelemetrySettings:
        values: dict[str, float] = {}
        for key, value in data.items():
            if key != "evict_after_s" and key not in _INTS:
                raise ConfigError(f"[telemetry]: unknown setting '{key}'.")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"[telemetry]: {key} must be a positive number, got {value!r}.")
            if key in _INTS and value != int(value):
                raise ConfigError(f"[telemetry]: {key} must be a whole number.")
            values[key] = value
        defaults = RegistryLimits()
        unknown = int(values.get("unknown_devices", defaults.max_unknown))
        limits = RegistryLimits(
            max_unknown=unknown,
            unknown_rows=unknown,
            quarantine_per_device=int(
                values.get("quarantine_per_device", defaults.quarantine_per_device)
            ),
            quarantine_total=int(values.get("quarantine_total", defaults.quarantine_total)),
        )
        return cls(float(values.get("evict_after_s", DEFAULT_EVICT_AFTER_S)), limits)
