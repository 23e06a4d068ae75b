"""The ``[telemetry]`` section: device-format topics, per-format profiles and filter limits.

Every topic and option docs/mqtt.md calls configurable is read here, validated once, and
handed to the decoder (the live console and ``dispatcher decode`` alike). The defaults are
what the devices do out of the box: OwnTracks publishes under ``owntracks``, Traccar's MQTT
forwarder on ``positions`` and its event forwarder on ``events``, Home Assistant's
``mqtt_json`` trackers under ``location``. ``traccar/positions`` is kept too, for setups
that followed the earlier documentation.

Example::

    [telemetry]
    traccar_topics = ["positions"]
    coarse_accuracy_m = 500

    [telemetry.owntracks]
    battery = "auto"        # percent, or volts from Greenwich trackers

    [telemetry.traccar]
    speed = "knots"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from dispatcher.config import Settings
from dispatcher.errors import ConfigError, ValidationError
from dispatcher.model.devices import RegistryLimits
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.profiles import (
    FORMATS,
    STOCK_PROFILES,
    DeviceProfile,
    profile_from_mapping,
)

_TOPIC_KEYS = ("owntracks_root", "homeassistant_root")
_TOPIC_LIST_KEYS = ("traccar_topics", "traccar_event_topics")

_FILTER_KEYS = {f.name: f for f in fields(FilterConfig)}
#: Bounds of the device registry (the unknown devices list and the quarantine).
_REGISTRY_KEYS = ("unknown_devices", "quarantine_per_device", "quarantine_total")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """Validated ``[telemetry]`` table.

    Attributes:
        owntracks_root: first topic level of OwnTracks (``<root>/<user>/<device>``).
        traccar_topics: topics of Traccar's position forwarder (``forward.topic``).
        traccar_event_topics: topics of Traccar's event forwarder (``event.forward.topic``).
        homeassistant_root: first topic level of Home Assistant ``mqtt_json`` trackers.
        profiles: default device profile of each format.
        filters: thresholds of the ingest filters (any :class:`FilterConfig` field, among them
            ``evict_after_s``: silent vehicles are forgotten after it).
        limits: bounds of the unknown devices list and the quarantine (``unknown_devices``,
            ``quarantine_per_device``, ``quarantine_total``).
    """

    owntracks_root: str = "owntracks"
    traccar_topics: tuple[str, ...] = ("positions", "traccar/positions")
    traccar_event_topics: tuple[str, ...] = ("events", "traccar/events")
    homeassistant_root: str = "location"
    profiles: Mapping[str, DeviceProfile] = field(default_factory=lambda: dict(STOCK_PROFILES))
    filters: FilterConfig = field(default_factory=FilterConfig)
    limits: RegistryLimits = field(default_factory=RegistryLimits)

    @property
    def evict_after_s(self) -> float:
        """A vehicle's live state is forgotten after this long without a message."""
        return self.filters.evict_after_s

    @classmethod
    def from_settings(cls, settings: Settings) -> TelemetrySettings:
        """Validate ``settings.sections["telemetry"]``; a wrong key or value is a ConfigError."""
        return cls.from_mapping(settings.sections.get("telemetry") or {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TelemetrySettings:
        own: dict[str, Any] = {}
        limits: dict[str, Any] = {}
        bounds: dict[str, Any] = {}
        profiles = dict(STOCK_PROFILES)
        for key, value in data.items():
            if key in _TOPIC_KEYS:
                own[key] = _topic(key, value, filter_ok=False)
            elif key in _TOPIC_LIST_KEYS:
                own[key] = _topics(key, value)
            elif key in FORMATS:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"[telemetry.{key}] must be a table.")
                try:
                    profiles[key] = profile_from_mapping(
                        value, f"[telemetry.{key}]", STOCK_PROFILES[key]
                    )
                except ValidationError as exc:
                    raise ConfigError(f"{exc}.") from None
            elif key in _FILTER_KEYS:
                limits[key] = _limit(key, value)
            elif key in _REGISTRY_KEYS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"[telemetry]: {key} must be a whole number >= 1.")
                bounds[key] = value
            else:
                raise ConfigError(f"[telemetry]: unknown setting '{key}'.")
        defaults = RegistryLimits()
        unknown = int(bounds.get("unknown_devices", defaults.max_unknown))
        registry = RegistryLimits(
            max_unknown=unknown,
            unknown_rows=unknown,
            quarantine_per_device=int(
                bounds.get("quarantine_per_device", defaults.quarantine_per_device)
            ),
            quarantine_total=int(bounds.get("quarantine_total", defaults.quarantine_total)),
        )
        return cls(
            profiles=profiles, filters=replace(FilterConfig(), **limits), limits=registry, **own
        )


def _topic(key: str, value: Any, *, filter_ok: bool) -> str:
    if not isinstance(value, str) or not value or value.strip() != value:
        raise ConfigError(f"[telemetry]: {key} must be a non-empty topic, got {value!r}.")
    if value.startswith("/") or value.endswith("/") or "//" in value or "\x00" in value:
        raise ConfigError(f"[telemetry]: {key} {value!r} has an empty topic level.")
    if not filter_ok and ("+" in value or "#" in value):
        raise ConfigError(f"[telemetry]: {key} {value!r} must not contain + or #.")
    return value


def _topics(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"[telemetry]: {key} must be a list of topics, got {value!r}.")
    return tuple(_topic(key, item, filter_ok=False) for item in value)


def _limit(key: str, value: Any) -> Any:
    """A filter threshold: a non-negative number (``max_accuracy_m``/``coarse_accuracy_m``
    may also be ``false`` to switch the check off)."""
    optional = key in ("max_accuracy_m", "coarse_accuracy_m")
    if optional and value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"[telemetry]: {key} must be a non-negative number, got {value!r}.")
    if _FILTER_KEYS[key].type in ("int", int):
        if value != int(value):
            raise ConfigError(f"[telemetry]: {key} must be a whole number, got {value!r}.")
        return int(value)
    return float(value)
