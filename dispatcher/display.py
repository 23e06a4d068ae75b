"""How the console writes distances, speeds, numbers, times and dates for a person.

One place, driven by the fleet's ``[fleet] units`` and ``[fleet] locale``
(:mod:`dispatcher.fleet_settings`), so a route board, the fleet tab, the map's tooltips, an
exception's title, the day report and ``dispatcher plan`` all say "7.6 mi" and "2:05 PM" for
an American fleet and "12.3 km" and "14:05" for the demo. Everything stored or exchanged
stays metric and ISO (metres, km/h, ``distance_km`` in JSON, CSV timestamps): this module
only writes text.

Units (``units = "km" | "mi"``):

* long distances (a route, a plan, a change): ``12.3 km`` / ``7.6 mi``, one decimal;
* short distances (a GPS fix's accuracy, how far a van is off its route, how close it came):
  metres under 1 km (``650 m``), else kilometres; in miles, below a tenth of a mile the way
  the country's drivers read it, feet where the locale's region is the United States (or
  Liberia, Myanmar) or no locale is set, yards elsewhere (``en_GB``: UK road signs), else
  miles with one decimal;
* speeds: ``48 km/h`` / ``30 mph``.

Locale (``locale = "en_US"``, any CLDR locale Babel knows): clock times (12-hour with AM/PM
for ``en_US``, 24-hour for ``en_GB`` or ``de_DE``), dates (``11/1/26``, ``01/11/2026``,
``01.11.26``), weekday labels and the decimal and grouping separators of numbers
(``12,3 km`` in German). Without a locale the console keeps its own conventions: 24-hour
clock, ISO dates, a decimal point, no grouping — what the demo shows.

The formatter is process-wide, like Qt's ``QLocale.setDefault``: one fleet per process, so
:class:`~dispatcher.core.Core` installs the fleet's with :func:`install` and every widget and
text builder reads :func:`current` instead of threading a parameter through every
constructor. A test that changes it restores the default (``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Protocol

KM_PER_MILE = 1.609344
METRES_PER_MILE = 1609.344
METRES_PER_YARD = 0.9144
METRES_PER_FOOT = 0.3048
#: Regions whose drivers read short distances in feet rather than yards.
FEET_REGIONS = frozenset({"US", "LR", "MM"})
#: Below this many metres a distance is short: metres (km fleets).
SHORT_KM = 1000.0
#: Below a tenth of a mile a distance is short: feet or yards (mile fleets).
SHORT_MI = METRES_PER_MILE / 10


class FleetPlace(Protocol):
    """What the formatter reads of the fleet: :class:`~dispatcher.fleet_settings.FleetSettings`.

    Named here rather than imported: the fleet's settings build on this module (its units),
    and the core has no import cycle (docs/architecture.md).
    """

    @property
    def units(self) -> Enum: ...

    @property
    def locale(self) -> str | None: ...

    @property
    def timezone(self) -> str: ...


@dataclass(frozen=True)
class Display:
    """Texts in the fleet's units and locale (build with :meth:`for_fleet`; default: km, none).

    Attributes:
        miles: Distances in miles and speeds in mph, else km and km/h.
        locale: A Babel locale name (``en_US``), or None for the console's own conventions.
        zone: The fleet's IANA time zone, for instants written by :meth:`instant`.
    """

    miles: bool = False
    locale: str | None = None
    zone: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_fleet(cls, fleet: FleetPlace) -> Display:
        return cls(miles=fleet.units.value == "mi", locale=fleet.locale, zone=fleet.timezone)

    # -- units ----------------------------------------------------------------------------
    @property
    def distance_unit(self) -> str:
        """``km`` or ``mi``: the heading of a column of :meth:`distance_value`."""
        return "mi" if self.miles else "km"

    @property
    def speed_unit(self) -> str:
        """``km/h`` or ``mph``: the heading of a column of :meth:`speed_value`."""
        return "mph" if self.miles else "km/h"

    def distance_value(self, metres: float) -> float:
        """``metres`` in kilometres or miles."""
        return metres / (METRES_PER_MILE if self.miles else 1000.0)

    def speed_value(self, kmh: float) -> float:
        """``kmh`` in km/h or mph."""
        return kmh / KM_PER_MILE if self.miles else kmh

    def distance_figure(self, metres: float, digits: int = 1) -> str:
        """:meth:`distance_value` as text without the unit (a column headed by it)."""
        return self.number(self.distance_value(metres), digits)

    def distance(self, metres: float, digits: int = 1) -> str:
        """A long distance: ``12.3 km`` / ``7.6 mi``."""
        return f"{self.number(self.distance_value(metres), digits)} {self.distance_unit}"

    def signed_distance(self, metres: float, digits: int = 1) -> str:
        """A change of distance: ``+4.0 km``, ``-2.5 mi``, ``±0.0 km``."""
        return f"{self.signed(self.distance_value(metres), digits)} {self.distance_unit}"

    def short_distance(self, metres: float) -> str:
        """A distance that may be short: ``650 m`` / ``1.4 km``, ``710 yd`` / ``0.4 mi``."""
        if not self.miles:
            if metres < SHORT_KM:
                return f"{self.number(metres, 0)} m"
            return self.distance(metres)
        if metres < SHORT_MI:
            if self._feet:
                return f"{self.number(metres / METRES_PER_FOOT, 0)} ft"
            return f"{self.number(metres / METRES_PER_YARD, 0)} yd"
        return self.distance(metres)

    def speed(self, kmh: float) -> str:
        """``48 km/h`` / ``30 mph`` (whole units: a speedometer's precision)."""
        return f"{self.number(self.speed_value(kmh), 0)} {self.speed_unit}"

    @property
    def _feet(self) -> bool:
        region = _region(self.locale)
        return region is None or region in FEET_REGIONS

    # -- numbers --------------------------------------------------------------------------
    def number(self, value: float, digits: int = 0) -> str:
        """``value`` with ``digits`` decimals, in the locale's separators (``1,234.5``)."""
        if self.locale is None or not math.isfinite(value):
            return f"{value:.{digits}f}"
        from babel.numbers import format_decimal

        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        text = format_decimal(value, format=pattern, locale=self._locale)
        return _plain(text)

    def signed(self, value: float, digits: int = 0) -> str:
        """``+4``, ``-3``, ``±0`` (never ``+-0`` nor ``-0``): a change as a person reads it."""
        text = self.number(abs(value), digits)
        if not any(c in "123456789" for c in text):
            return "±" + text
        return ("+" if value > 0 else "-") + text

    # -- times and dates ------------------------------------------------------------------
    def clock(self, value: dt.datetime | dt.time, seconds: bool = False) -> str:
        """Wall-clock time of ``value`` as it is (convert to the fleet's zone first):
        ``14:05`` / ``2:05 PM``; with ``seconds``, ``14:05:07`` / ``2:05:07 PM``."""
        if self.locale is None:
            return value.strftime("%H:%M:%S" if seconds else "%H:%M")
        pattern = self._babel_time_format("medium" if seconds else "short")
        return _plain(pattern.apply(value, self._locale))

    def instant(self, value: dt.datetime, seconds: bool = False) -> str:
        """The wall-clock time of an instant in the fleet's zone (an aware ``value`` stored in
        UTC reads as the fleet's local time, not as UTC)."""
        if value.tzinfo is not None and self.zone:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(self.zone))
        return self.clock(value, seconds)

    def date(self, value: dt.date) -> str:
        """A date: ``2026-11-01`` / ``11/1/26`` (en_US) / ``01/11/2026`` (en_GB)."""
        if self.locale is None:
            return value.strftime("%Y-%m-%d")
        from babel.dates import format_date

        return _plain(format_date(value, "short", locale=self._locale))

    def day(self, value: dt.date) -> str:
        """A day in a heading: ``Sun 01 Nov`` / ``Sun, Nov 1`` / ``So., 1. Nov.``."""
        if self.locale is None:
            return value.strftime("%a %d %b")
        from babel.dates import format_skeleton

        return _plain(format_skeleton("MMMEd", value, locale=self._locale))

    def long_day(self, value: dt.date) -> str:
        """A day spelled out for a customer: ``Friday 20 November``; with a locale, its full
        date: ``Friday, November 20, 2026`` (en_US), ``perjantai 20. marraskuuta 2026``."""
        if self.locale is None:
            return value.strftime("%A %d %B")
        from babel.dates import format_date

        return _plain(format_date(value, "full", locale=self._locale))

    def stamp(self, value: dt.datetime, seconds: bool = False, year: bool = True) -> str:
        """Date and time: ``2026-11-01 14:05`` / ``11/1/26 2:05 PM``; without ``year``,
        ``01.11. 14:05`` / ``11/1 2:05 PM`` (a list of today's and yesterday's events)."""
        if self.locale is None:
            day = value.strftime("%Y-%m-%d" if year else "%d.%m.")
        elif year:
            day = self.date(value)
        else:
            from babel.dates import format_skeleton

            day = _plain(format_skeleton("Md", value, locale=self._locale))
        return f"{day} {self.clock(value, seconds)}"

    # -- internals ------------------------------------------------------------------------
    @cached_property
    def _locale(self) -> Any:
        from babel import Locale

        return Locale.parse(self.locale)

    def _babel_time_format(self, width: str) -> Any:
        key = f"time:{width}"
        pattern = self._cache.get(key)
        if pattern is None:
            pattern = self._cache[key] = self._locale.time_formats[width]
        return pattern


def check_locale(name: str) -> str:
    """``name`` as Babel spells it (``en-US`` -> ``en_US``); ValueError if Babel has no such
    locale (the caller names the setting)."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def language_tag(locale: str | None) -> str | None:
    """A Babel locale name as a browser's ``Intl`` reads it (``fi_FI`` -> ``fi-FI``,
    ``sr_Latn_RS`` -> ``sr-Latn-RS``); None stays None (the console's own conventions)."""
    if not locale:
        return None
    return locale.split("@")[0].split(".")[0].replace("_", "-")


def _region(locale: str | None) -> str | None:
    parts = (locale or "").replace("-", "_").split("_")
    return parts[1] if len(parts) > 1 and parts[1] else None


def _plain(text: str) -> str:
    """CLDR puts a narrow no-break space before AM/PM and inside French numbers; plain
    spaces read the same, fit every font and keep CLI output and tests simple."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


_DEFAULT = Display()


class _Process:
    """Where the process's formatter lives (read on every text: one attribute look-up)."""

    display = _DEFAULT


def current() -> Display:
    """The process's formatter (the fleet's once a :class:`~dispatcher.core.Core` exists)."""
    return _Process.display


def install(fleet: FleetPlace) -> Display:
    """Make the fleet's units and locale the process's: every text written from now on."""
    _Process.display = Display.for_fleet(fleet)
    return _Process.display


def reset() -> None:
    """Back to the console's own conventions (km, no locale): tests, between fleets."""
    _Process.display = _DEFAULT
