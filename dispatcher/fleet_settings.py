"""The fleet's place and time: the ``[fleet]`` table of the configuration.

Every time the console shows, parses or plans (CSV windows, shifts, messages, alerts, KPIs,
reports, the simulator, the route boards) is read in ONE zone, the fleet's, so a Manchester
window "09:00-12:00" is 09:00-12:00 in Europe/London wherever the workstation is::

    [fleet]
    timezone = "Europe/London"   # any IANA zone; half-hour offsets and DST days included
    locale = "en_GB"             # language_REGION of the texts (clock, dates, numbers)
    units = "mi"                 # km | mi: distances and speeds shown to people

What ``units`` and ``locale`` change on screen is :mod:`dispatcher.display`'s business (the
one formatter every screen writes through); unset, the console shows km, km/h, a 24-hour
clock and ISO dates.

When ``timezone`` is not set, the fleet is where the machine is: the ``TZ`` environment
variable if it names a zone, else the zone ``/etc/localtime`` points at, else UTC (the
`tzlocal` package does the same dance, for one function we would rather not add a
dependency). The demo is the exception: ``dispatcher demo`` defaults to the demo scenario's
zone, because its streets, shifts and windows are that city's (see ``ui/dispatcher_ui/app.py``).

Everything is checked when the settings are read: a zone that does not exist, a locale that
is not a locale or a unit we do not know is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher.config import Settings
from dispatcher.display import KM_PER_MILE
from dispatcher.errors import ConfigError

SECTION = "fleet"
UTC_NAME = "UTC"
_LOCALE = re.compile(r"^[a-z]{2,3}(?:[_-][A-Z]{2}|[_-][0-9]{3})?$")


class DistanceUnit(enum.StrEnum):
    KM = "km"
    MI = "mi"


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """Zone, locale and units of the fleet, validated (build with :meth:`from_settings`)."""

    timezone: str = UTC_NAME
    #: A Babel (CLDR) locale name, or None for the console's own conventions.
    locale: str | None = None
    units: DistanceUnit = DistanceUnit.KM

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def region(self) -> str | None:
        """The locale's country (``en_GB`` -> ``GB``): how national phone numbers are read
        unless ``[messaging] region`` says otherwise."""
        parts = re.split(r"[_-]", self.locale or "")
        return parts[1] if len(parts) > 1 and parts[1].isalpha() else None

    def today(self, now: datetime) -> date:
        """The fleet's calendar day at ``now`` (an aware instant): its service date."""
        return now.astimezone(self.zone).date()

    def distance(self, km: float) -> float:
        """``km`` in the fleet's unit."""
        return km / KM_PER_MILE if self.units is DistanceUnit.MI else km

    def format_distance(self, km: float) -> str:
        """``km`` as the console writes a long distance (:mod:`dispatcher.display`)."""
        from dispatcher.display import Display

        return Display.for_fleet(self).distance(km * 1000.0)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, default_timezone: str | None = None
    ) -> FleetSettings:
        """Read ``settings.sections["fleet"]``; ``default_timezone`` replaces the machine's
        zone when the table names none (the demo passes its city's)."""
        return cls.from_mapping(settings.sections.get(SECTION, {}), default_timezone)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], default_timezone: str | None = None
    ) -> FleetSettings:
        unknown = set(data) - {"timezone", "locale", "units"}
        if unknown:
            raise ConfigError(f"[fleet]: unknown setting '{sorted(unknown)[0]}'.")
        zone_name = data.get("timezone") or default_timezone or machine_zone_name()
        check_zone(zone_name, "fleet.timezone")
        locale = data.get("locale") or None
        if locale is not None:
            locale = _check_locale(locale)
        units = data.get("units", DistanceUnit.KM.value)
        try:
            unit = DistanceUnit(units)
        except ValueError:
            raise ConfigError(f"fleet.units: expected 'km' or 'mi', got {units!r}.") from None
        return cls(timezone=str(zone_name), locale=locale, units=unit)


def _check_locale(locale: object) -> str:
    """A locale Babel knows, spelled its way (``en-US`` -> ``en_US``), else a ConfigError."""
    from dispatcher.display import check_locale

    if not isinstance(locale, str) or not _LOCALE.match(locale):
        raise ConfigError(f"fleet.locale: expected a locale like 'en_GB', got {locale!r}.")
    try:
        return check_locale(locale)
    except ValueError:
        raise ConfigError(f"fleet.locale: no such locale {locale!r}.") from None


def check_zone(name: object, key: str) -> ZoneInfo:
    """``name`` as a zone, or a :class:`ConfigError` naming ``key``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}: expected an IANA time zone name, got {name!r}.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"{key}: unknown time zone {name!r}.") from None


def machine_zone_name(env: Mapping[str, str] | None = None) -> str:
    """The IANA name of this machine's zone: ``TZ``, then ``/etc/localtime``, then UTC."""
    env = os.environ if env is None else env
    candidate = env.get("TZ", "").lstrip(":")
    if candidate and _is_zone(candidate):
        return candidate
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return UTC_NAME
    marker = "/zoneinfo/"
    if marker in target:
        name = target.split(marker, 1)[1]
        if _is_zone(name):
            return name
    return UTC_NAME


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def fleet_zone_name(settings: Settings, override: str | None = None) -> str:
    """A command's ``--timezone`` if given, else the fleet's: what every CLI command uses."""
    if override:
        check_zone(override, "--timezone")
        return override
    return FleetSettings.from_settings(settings).timezone
