"""The ``[eta]`` section: which learned speed profile, if any, travel times use (docs/eta.md).

::

    [eta]
    profile = "/var/lib/dispatcher/eta_profile.json"   # written by `dispatcher eta learn`

Explicit rather than "whatever file is lying in the data folder": a profile changes every
ETA and plan of the process, so it is switched on by naming it. A named file that is missing
or unreadable is a warning and the fixed ETAs, never a failed start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatcher.config import Settings
from dispatcher.errors import ConfigError, ValidationError
from dispatcher.eta.learned import LearnedSpeeds

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EtaSettings:
    """What ``[eta]`` says, checked."""

    profile: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> EtaSettings:
        return cls.from_mapping(settings.sections.get("eta", {}))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> EtaSettings:
        extra = sorted(set(raw) - {"profile"})
        if extra:
            raise ConfigError(f"[eta] has unknown key(s): {', '.join(extra)}")
        profile = raw.get("profile", "")
        if not isinstance(profile, str):
            raise ConfigError("[eta] profile must be the path of a file, in quotes")
        return cls(profile.strip())

    def load(self) -> LearnedSpeeds | None:
        """The learned profile, or None when none is configured or it cannot be read."""
        if not self.profile:
            return None
        try:
            speeds = LearnedSpeeds.load(Path(self.profile).expanduser())
        except ValidationError as exc:
            log.warning("ETAs use the fixed speed profile: %s", exc)
            return None
        log.info("ETAs use the learned speed profile %s (%d legs)", self.profile, speeds.legs)
        return speeds
