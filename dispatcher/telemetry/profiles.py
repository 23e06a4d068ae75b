"""What a field means for one device: battery as percent or volts, speed in which unit.

Devices of one format disagree: an OwnTracks phone sends ``batt`` in percent, a Greenwich
tracker publishing the same OwnTracks JSON sends its battery voltage (``"batt": "4.1"``);
a Traccar server forwards speed in knots, some bridges in km/h. A :class:`DeviceProfile`
says how to read those fields. Each format has a default profile (``[telemetry.<format>]``
in the configuration), and a device can have its own, chosen when it is bound
(:func:`set_device_profile`, stored by device key). The adapters look the profile up in a
:class:`ProfileBook` on every message, so the lookup is one dict read without a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dispatcher.errors import ValidationError
from dispatcher.telemetry.fields import KNOT_KMH, MS_KMH
from dispatcher.telemetry.rejection import PayloadError, RejectReason

#: ``auto``: percent, unless the value is shaped like a voltage (see :meth:`battery_pct`).
BATTERY_UNITS = ("percent", "volts", "fraction", "auto")
SPEED_UNITS = ("kmh", "ms", "knots", "mph")
SPEED_LABELS = {"kmh": "km/h", "ms": "m/s", "knots": "knots", "mph": "mph"}
_SPEED_FACTOR = {"kmh": 1.0, "ms": MS_KMH, "knots": KNOT_KMH, "mph": 1.609344}
FORMATS = ("owntracks", "traccar", "homeassistant")


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """How to read the fields where devices differ.

    Attributes:
        battery: ``percent`` (0-100), ``volts`` (converted linearly between ``volts_empty``
            and ``volts_full``), ``fraction`` (0-1) or ``auto`` (percent, but a value with a
            fractional part is a voltage: apps send whole percents, Greenwich trackers volts;
            up to 5 V it is read as ``volts``, a 12 V or 24 V vehicle battery on the nominal
            lead-acid range, see :func:`_auto_volts`).
        speed: unit of the speed field on the wire.
        volts_empty: voltage read as 0 % (default: a single Li-ion cell).
        volts_full: voltage read as 100 % (a 12 V vehicle battery: 11.8 and 12.7).
    """

    battery: str = "percent"
    speed: str = "kmh"
    volts_empty: float = 3.4
    volts_full: float = 4.2

    def __post_init__(self) -> None:
        if self.battery not in BATTERY_UNITS:
            raise ValidationError(
                f"battery must be one of {', '.join(BATTERY_UNITS)}, not {self.battery!r}"
            )
        if self.speed not in SPEED_UNITS:
            raise ValidationError(
                f"speed must be one of {', '.join(SPEED_UNITS)}, not {self.speed!r}"
            )
        if not 0 <= self.volts_empty < self.volts_full <= 100:
            raise ValidationError("volts_empty must be below volts_full (0-100 V)")

    def speed_kmh(self, value: float | None) -> float | None:
        """The wire speed in km/h (negative values stay negative: "unknown" downstream)."""
        return None if value is None else value * _SPEED_FACTOR[self.speed]

    def battery_pct(self, value: float | None) -> float | None:
        """The wire battery value in percent (``None`` stays ``None``)."""
        if value is None or value < 0:
            return value
        unit = self.battery
        if unit == "auto":
            if value == int(value):
                return value  # apps send whole percents
            return _auto_volts(value, self.volts_empty, self.volts_full)
        if unit == "percent":
            return value
        if unit == "fraction":
            if value > 1.0:
                raise PayloadError(RejectReason.OUT_OF_RANGE, "battery fraction must be 0..1")
            return value * 100.0
        span = self.volts_full - self.volts_empty
        return min(100.0, max(0.0, (value - self.volts_empty) / span * 100.0))

    def summary(self) -> str:
        """In a few words, as the devices list shows it: ``battery volts 11.8-12.7 V, km/h``."""
        battery = f"battery {self.battery}"
        if self.battery == "volts":
            battery += f" {self.volts_empty:g}-{self.volts_full:g} V"
        return f"{battery}, {SPEED_LABELS[self.speed]}"

    def to_mapping(self) -> dict[str, Any]:
        """The profile as stored and shown (``[telemetry.<format>]`` keys)."""
        return {
            "battery": self.battery,
            "speed": self.speed,
            "volts_empty": self.volts_empty,
            "volts_full": self.volts_full,
        }


#: Resting voltage of an empty and a full lead-acid vehicle battery, 12 V and 24 V systems.
_VEHICLE_VOLTS = ((16.0, 11.8, 12.7), (32.0, 23.6, 25.4))


def _auto_volts(value: float, empty: float, full: float) -> float | None:
    """A voltage of unknown kind: a cell (up to 5 V, the profile's range), else a 12/24 V
    vehicle battery; anything else is no battery level we can tell (``None``)."""
    if value > 5.0:
        ranges = [(low, high) for top, low, high in _VEHICLE_VOLTS if value <= top]
        if not ranges:
            return None
        empty, full = ranges[0]
    return min(100.0, max(0.0, (value - empty) / (full - empty) * 100.0))


#: What each format sends when nobody configured anything (the public formats' units).
STOCK_PROFILES: dict[str, DeviceProfile] = {
    # Phones send whole percents; Greenwich trackers the same JSON with a voltage.
    "owntracks": DeviceProfile(battery="auto", speed="kmh"),
    "traccar": DeviceProfile(battery="percent", speed="knots"),
    "homeassistant": DeviceProfile(battery="percent", speed="kmh"),
}


class ProfileBook:
    """Format defaults plus per-device profiles, read on the MQTT thread without a lock.

    Writers replace the whole per-device dict (atomic), like :class:`DeviceBindings`.
    """

    def __init__(
        self,
        defaults: Mapping[str, DeviceProfile] | None = None,
        devices: Mapping[str, DeviceProfile] | None = None,
    ) -> None:
        self._defaults = {**STOCK_PROFILES, **(defaults or {})}
        self._devices: dict[str, DeviceProfile] = dict(devices or {})
        self._lock = threading.Lock()

    def get(self, fmt: str, key: str) -> DeviceProfile:
        """The profile of device ``key`` (a binding key), else its format's default."""
        profile = self._devices.get(key)
        if profile is not None:
            return profile
        return self._defaults.get(fmt) or DeviceProfile()

    def default(self, fmt: str) -> DeviceProfile:
        """The format's default profile."""
        return self._defaults.get(fmt) or DeviceProfile()

    def set(self, key: str, profile: DeviceProfile | None) -> None:
        """Give one device its own profile (``None``: back to the format's default)."""
        with self._lock:
            table = dict(self._devices)
            if profile is None:
                table.pop(key, None)
            else:
                table[key] = profile
            self._devices = table

    def replace(self, devices: Mapping[str, DeviceProfile]) -> None:
        """Swap every per-device profile at once (after a reload from the database)."""
        with self._lock:
            self._devices = dict(devices)

    def devices(self) -> dict[str, DeviceProfile]:
        """A copy of the per-device profiles."""
        return dict(self._devices)


def profile_from_mapping(
    data: Mapping[str, Any], where: str, base: DeviceProfile | None = None
) -> DeviceProfile:
    """``base`` with the keys of a config table or a stored row; unknown keys or bad values
    raise :class:`ValidationError` naming ``where``."""
    allowed = {"battery", "speed", "volts_empty", "volts_full"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{where}: unknown setting '{unknown[0]}'")
    kwargs: dict[str, Any] = {}
    for key in ("battery", "speed"):
        if key in data:
            if not isinstance(data[key], str):
                raise ValidationError(f"{where}: {key} must be a string")
            kwargs[key] = data[key]
    for key in ("volts_empty", "volts_full"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"{where}: {key} must be a number")
            kwargs[key] = float(value)
    try:
        return replace(base or DeviceProfile(), **kwargs)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None
