"""The ``[history]`` section of the configuration: how positions are thinned and kept.

Thinning keeps a fix when the vehicle moved more than ``min_distance_m``, turned more than
``min_heading_deg`` or ``max_interval_s`` passed since the last stored fix of that vehicle;
``retention_days`` (0 = keep forever) bounds how long position history is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dispatcher.config import Settings
from dispatcher.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ThinningPolicy:
    """When a fix is worth storing. All limits 0 store every fix (thinning off)."""

    min_distance_m: float = 50.0
    min_heading_deg: float = 20.0
    max_interval_s: float = 30.0
    #: A turn counts only when the vehicle also moved this far (a parked GPS heading jitters).
    heading_min_move_m: float = 5.0

    @property
    def stores_everything(self) -> bool:
        return self.min_distance_m <= 0 and self.max_interval_s <= 0


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """Thinning and retention, read from the ``[history]`` TOML table."""

    thinning: ThinningPolicy = ThinningPolicy()
    retention_days: int = 90
    prune_batch: int = 5000
    prune_interval_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HistorySettings:
        """Validate ``settings.sections["history"]``; a wrong key or type is a ConfigError."""
        return cls.from_mapping(settings.sections.get("history", {}))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> HistorySettings:
        thinning_keys = {f.name for f in fields(ThinningPolicy)}
        own_keys = {"retention_days", "prune_batch", "prune_interval_s"}
        thin: dict[str, float] = {}
        own: dict[str, Any] = {}
        for key, value in data.items():
            if key in thinning_keys:
                thin[key] = _number(key, value)
            elif key in own_keys:
                own[key] = _number(key, value)
            else:
                raise ConfigError(f"[history]: unknown setting '{key}'.")
        for key in ("retention_days", "prune_batch"):
            if key in own:
                if own[key] != int(own[key]):
                    raise ConfigError(f"[history]: {key} must be a whole number.")
                own[key] = int(own[key])
        if own.get("prune_batch", 1) < 1:
            raise ConfigError("[history]: prune_batch must be at least 1.")
        return cls(thinning=ThinningPolicy(**thin), **own)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[history]: {key} must be a number, got {value!r}.")
    if value < 0:
        raise ConfigError(f"[history]: {key} must not be negative, got {value!r}.")
    return float(value)
