"""The ``[driver]`` section: where POD files live, their limits, what a POD needs.

Example::

    [driver]
    pod_dir = "/srv/shared/pod"     # default: <user data dir>/pod
    pod_max_mb = 8                  # per file
    pod_max_distance_m = 150        # farther from the stop: an exception in the queue
    delivery_requires = ["photo", "signature"]   # of photo, signature, recipient
    pickup_requires = []
    pod_retention_days = 90         # photos and signatures older than this are deleted;
                                    # 0 keeps them forever (dispatcher/driver/retention.py)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.clock import Clock
from dispatcher.config import Settings, user_data_dir
from dispatcher.driver.podstore import PodStore
from dispatcher.driver.retention import PodRetentionService
from dispatcher.driver.service import DriverService, PodPolicy
from dispatcher.errors import ConfigError
from dispatcher.persistence.database import Database

PARTS = frozenset({"photo", "signature", "recipient"})


@dataclass(frozen=True, slots=True)
class DriverSettings:
    pod_dir: str = ""
    pod_max_mb: float = 8.0
    pod_max_distance_m: float = 150.0
    delivery_requires: list[str] = field(default_factory=lambda: ["photo", "signature"])
    pickup_requires: list[str] = field(default_factory=list)
    pod_retention_days: int = 90

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Any]]) -> DriverSettings:
        raw = dict(sections.get("driver") or {})
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"[driver]: unknown key(s) {', '.join(unknown)}")
        values = cls(**raw)
        for name in ("delivery_requires", "pickup_requires"):
            parts = getattr(values, name)
            if not isinstance(parts, list) or not set(parts) <= PARTS:
                raise ConfigError(f"[driver] {name}: a list of {', '.join(sorted(PARTS))}")
        for name in ("pod_max_mb", "pod_max_distance_m"):
            value = getattr(values, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"[driver] {name} must be a positive number")
        days = values.pod_retention_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ConfigError("[driver] pod_retention_days: a whole number of days, 0 = forever")
        return values

    def store(self) -> PodStore:
        root = Path(self.pod_dir).expanduser() if self.pod_dir else user_data_dir() / "pod"
        return PodStore(root, max_bytes=int(self.pod_max_mb * 1024 * 1024))

    def policy(self) -> PodPolicy:
        return PodPolicy(
            {
                "delivery": frozenset(self.delivery_requires),
                "pickup": frozenset(self.pickup_requires),
            },
            self.pod_max_distance_m,
        )


def driver_service(settings: Settings, db: Database, clock: Clock | None = None) -> DriverService:
    """The driver service as ``[driver]`` sets it (the console's and the web front's)."""
    values = DriverSettings.from_sections(settings.sections)
    return DriverService(db, values.store(), policy=values.policy(), clock=clock)


def pod_retention(settings: Settings, db: Database, clock: Clock) -> PodRetentionService | None:
    """The recorder's POD retention as ``[driver]`` sets it; None when it keeps PODs forever."""
    values = DriverSettings.from_sections(settings.sections)
    if values.pod_retention_days <= 0:
        return None
    return PodRetentionService(db, clock, values.store(), values.pod_retention_days)
