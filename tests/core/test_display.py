"""One formatter writes every distance, speed, clock time and date a person reads, in the
fleet's ``[fleet] units`` and ``[fleet] locale``; unset, the demo's km and 24-hour clock."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ

from dispatcher import display
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.display import Display
from dispatcher.errors import ConfigError
from dispatcher.fleet_settings import FleetSettings
from dispatcher.planning.evaluate import EvaluationDiff
from dispatcher.planning.plan_day import DayPlanOutcome

KM = Display()
US = Display(miles=True, locale="en_US")
UK = Display(miles=True, locale="en_GB")
DE = Display(locale="de_DE")
T = datetime(2026, 11, 1, 14, 5, 7)


def test_unset_the_console_keeps_its_own_conventions() -> None:
    assert KM.distance(12_345) == "12.3 km"
    assert KM.short_distance(650) == "650 m" and KM.short_distance(1400) == "1.4 km"
    assert KM.speed(47.6) == "48 km/h" and KM.speed_unit == "km/h"
    assert KM.clock(T) == "14:05" and KM.clock(T, seconds=True) == "14:05:07"
    assert KM.date(T.date()) == "2026-11-01" and KM.day(T.date()) == "Sun 01 Nov"
    assert KM.stamp(T) == "2026-11-01 14:05"
    assert KM.stamp(T, seconds=True, year=False) == "01.11. 14:05:07"
    assert KM.number(1234.5, 1) == "1234.5"


def test_an_american_fleet_reads_miles_feet_mph_and_a_12_hour_clock() -> None:
    assert US.distance(16_093.44) == "10.0 mi" and US.distance_unit == "mi"
    assert US.short_distance(100) == "328 ft"  # under a tenth of a mile: feet
    assert US.short_distance(700) == "0.4 mi"
    assert US.speed(48.28) == "30 mph" and US.speed_unit == "mph"
    assert US.clock(T) == "2:05 PM" and US.clock(T, seconds=True) == "2:05:07 PM"
    assert US.clock(time(9, 0)) == "9:00 AM"
    assert US.date(T.date()) == "11/1/26" and US.day(T.date()) == "Sun, Nov 1"
    assert US.stamp(T) == "11/1/26 2:05 PM"
    assert US.number(1234.5, 1) == "1,234.5"


def test_a_british_fleet_reads_yards_and_a_24_hour_clock() -> None:
    assert UK.short_distance(100) == "109 yd"  # road signs count yards, not feet
    assert UK.distance(16_093.44) == "10.0 mi"
    assert UK.clock(T) == "14:05" and UK.date(T.date()) == "01/11/2026"


def test_a_german_locale_writes_a_decimal_comma() -> None:
    assert DE.distance(12_345) == "12,3 km" and DE.number(1234.5, 1) == "1.234,5"
    assert DE.clock(T, seconds=True) == "14:05:07" and DE.date(T.date()) == "01.11.26"


@pytest.mark.parametrize("shown", [KM, US, DE])
def test_a_change_is_signed_and_zero_is_never_negative(shown: Display) -> None:
    assert shown.signed(-0.04, 1).startswith("±") and shown.signed(0.0) == "±0"
    assert shown.signed(3.0) == "+3" and shown.signed(-3.0) == "-3"
    assert shown.signed_distance(4000).startswith("+")


def test_the_plan_summaries_follow_the_installed_fleet() -> None:
    change = EvaluationDiff(4000.0, 720.0, 2, 0, 0.0, 0.0)
    outcome = DayPlanOutcome(date(2026, 11, 1), 3, 30, 0, 42.2, 0, 3)
    assert change.summary() == "+4.0 km, +12 min, 2 late → 0 late"
    assert outcome.summary() == "2026-11-01: 30 stops on 3 vehicles, 0 unassigned, 42.2 km, 0 late"
    display.install(FleetSettings.from_mapping({"units": "mi", "locale": "en_US"}))
    assert change.summary() == "+2.5 mi, +12 min, 2 late → 0 late"
    assert outcome.summary() == "11/1/26: 30 stops on 3 vehicles, 0 unassigned, 26.2 mi, 0 late"
    assert outcome.as_json()["distance_km"] == 42.2  # the JSON keeps its documented field
    assert change.summary(1.0, "") == "+4000.0, +12 min, 2 late → 0 late"  # plane instances


def test_a_core_installs_its_fleets_formatter(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        sections={"fleet": {"timezone": "America/St_Johns", "units": "mi", "locale": "en-US"}},
    )
    core = Core(settings)
    try:
        assert core.fleet.locale == "en_US"  # spelled Babel's way
        assert display.current() is core.display and core.display.speed(80.47) == "50 mph"
        start = datetime.combine(DAY, time(9, 30), TZ)
        assert display.current().clock(start) == "9:30 AM"
    finally:
        core.close()
    display.reset()
    assert display.current().distance(1000) == "1.0 km"


@pytest.mark.parametrize("locale", ["xx_YY", "en_QQ", "zz"])
def test_a_locale_babel_does_not_know_is_a_config_error(locale: str) -> None:
    with pytest.raises(ConfigError, match=r"fleet\.locale: no such locale"):
        FleetSettings.from_mapping({"locale": locale})


def test_no_locale_is_no_locale() -> None:
    fleet = FleetSettings.from_mapping({})
    assert fleet.locale is None and fleet.region is None
    assert FleetSettings.from_mapping({"locale": ""}).locale is None


def test_health_lines_and_coarse_notes_use_short_distances_of_the_fleet() -> None:
    from dispatcher.devices.registry_cli import health_line
    from dispatcher.fleet.health import coarse_note
    from dispatcher.persistence.device_repo import DeviceView

    device = DeviceView("native:V", "native", "t", None, None, 1, False, "V", 52.0, 4.0, None,
                        30.0, None, None, {})  # fmt: skip
    assert "accuracy 30 m;" in health_line(device)
    note = coarse_note(1500, "significant")
    assert "(±1.5 km)" in note and "cell fixes of 1 km to 5 km" in note
    display.install(FleetSettings.from_mapping({"units": "mi", "locale": "en_GB"}))
    assert "accuracy 33 yd;" in health_line(device)
    note = coarse_note(1500, "significant")
    assert "(±0.9 mi)" in note and "cell fixes of 1 mi to 3 mi" in note


def test_an_instant_stored_in_utc_reads_in_the_fleets_zone() -> None:
    """A conflict message ("changed by sue at …") and the alerts listing's deadline are
    instants: they read as the fleet's wall clock, never as UTC."""
    from datetime import UTC

    from dispatcher.alerts.workflow import _conflict_message
    from dispatcher.model.alerts import Alert, AlertKind, Severity

    at = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    chicago = Display(zone="America/Chicago")
    assert chicago.instant(at) == "12:30"  # CST, the day the clocks went back
    assert Display(zone="Asia/Kolkata", locale="en_US").instant(at, seconds=True) == "12:00:00 AM"
    assert Display().instant(at) == "18:30"  # no fleet: as stored
    display.install(FleetSettings.from_mapping({"timezone": "America/Chicago"}))
    alert = Alert(
        id=7,
        kind=AlertKind.LATE,
        subject="stop:S1",
        severity=Severity.HIGH,
        title="Stop S1 late",
        first_seen=at,
        opened_at=at,
        last_seen=at,
        version=3,
        updated_by="sue",
        updated_at=at,
    )
    assert "changed by sue at 12:30:00 since you opened it" in _conflict_message(alert, 2)
