"""The ``[routing]`` section: which engine answers "how long, how far, which road".

Configured once, read by every path that needs travel times (planning, live ETA, alerts,
messages, insertion, the simulator) through :class:`~dispatcher.routing.router.Router`::

    [routing]
    provider = "osrm"              # "haversine" (default: straight lines, no engine)
    dataset = "/srv/roads/uusimaa" # built by `dispatcher roads build`; served by a child
    # url = "http://osrm:5000"     # ...or an OSRM server somebody else runs
    # engine = "/opt/osrm/bin"     # folder of osrm-routed; found automatically when empty
    timeout_s = 5.0
    [routing.profiles]             # OSRM profile of each vehicle type
    van = "car"
    cargo_bike = "bicycle"

A wrong value is a :class:`ConfigError` naming the key, at start-up; a dataset or engine that
is missing when routing is first needed is a warning and straight lines (planning goes on).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dispatcher.config import Settings
from dispatcher.errors import ConfigError

PROVIDERS = ("haversine", "osrm")
#: The fleet setup's built-in types (``van``, ``truck``, ``ev``, ``bike``; docs/fleet-setup.md)
#: and ``cargo_bike``: every other type routes as a van.
DEFAULT_PROFILES: Mapping[str, str] = {
    "van": "car",
    "truck": "car",
    "ev": "car",
    "bike": "bicycle",
    "cargo_bike": "bicycle",
}
#: The vehicle type whose profile a single plan-wide matrix uses (vans are most of a fleet).
DEFAULT_TYPE = "van"


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """What ``[routing]`` says, checked."""

    provider: str = "haversine"
    url: str = ""
    dataset: str = ""
    engine: str = ""
    timeout_s: float = 5.0
    profiles: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PROFILES))

    def profile_for(self, vehicle_type: str | None) -> str:
        """OSRM profile of ``vehicle_type``; an unknown or empty type routes as a van."""
        key = (vehicle_type or DEFAULT_TYPE).strip().lower()
        return self.profiles.get(key) or self.profiles.get(DEFAULT_TYPE) or "car"

    @classmethod
    def from_settings(cls, settings: Settings) -> RoutingSettings:
        return cls.from_mapping(settings.sections.get("routing", {}))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> RoutingSettings:
        known = {"provider", "url", "dataset", "engine", "timeout_s", "profiles"}
        extra = sorted(set(raw) - known)
        if extra:
            raise ConfigError(f"[routing] has unknown key(s): {', '.join(extra)}")
        provider = _text(raw, "provider", "haversine").lower()
        if provider not in PROVIDERS:
            raise ConfigError(
                f"[routing] provider must be one of {', '.join(PROVIDERS)}, not {provider!r}"
            )
        url, dataset = _text(raw, "url", ""), _text(raw, "dataset", "")
        if provider == "osrm" and bool(url) == bool(dataset):
            raise ConfigError("[routing] provider = 'osrm' needs exactly one of url or dataset")
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"[routing] url must start with http:// or https://, not {url!r}")
        timeout = raw.get("timeout_s", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ConfigError("[routing] timeout_s must be a number of seconds")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError("[routing] timeout_s must be positive")
        profiles = dict(DEFAULT_PROFILES)
        given = raw.get("profiles", {})
        if not isinstance(given, Mapping):
            raise ConfigError("[routing.profiles] must be a table: vehicle type = profile")
        for kind, name in given.items():
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"[routing.profiles] {kind} must name an OSRM profile")
            profiles[str(kind).strip().lower()] = name.strip()
        return cls(provider, url, dataset, _text(raw, "engine", ""), float(timeout), profiles)


def _text(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"[routing] {key} must be text")
    return value.strip()
