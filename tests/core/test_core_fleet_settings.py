"""The fleet's place and time is one setting, ``[fleet]``: checked when read, used by every
room. A Manchester fleet's CSV window 09:00-12:00 is 09:00-12:00 on its screens, whatever
zone the workstation (or the suite) runs in."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dispatcher.config import Settings, load_settings
from dispatcher.core import Core
from dispatcher.errors import ConfigError
from dispatcher.fleet_settings import DistanceUnit, FleetSettings, machine_zone_name
from main import main

MANCHESTER_CSV = (
    "order_id,customer_name,address,lat,lon,window_start,window_end,service_min,demand\n"
    "M-1,Ada Lovelace,1 Deansgate Manchester,53.4794,-2.2453,09:00,12:00,5,1\n"
)


def test_the_fleet_table_is_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[fleet]\ntimezone = "America/St_Johns"\nlocale = "en_CA"\nunits = "mi"\n')
    fleet = FleetSettings.from_settings(load_settings(cfg, env={}))
    assert (fleet.timezone, fleet.locale, fleet.units) == ("America/St_Johns", "en_CA", "mi")
    assert fleet.format_distance(16.09344) == "10.0 mi"
    assert fleet.region == "CA"  # national phone numbers are read as Canadian


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"timezone": "Europe/Manchester"}, "fleet.timezone"),
        ({"timezone": "../../etc/passwd"}, "fleet.timezone"),
        ({"timezone": 5}, "fleet.timezone"),
        ({"units": "furlongs"}, "fleet.units"),
        ({"locale": "english please"}, "fleet.locale"),
        ({"zone": "UTC"}, "'zone'"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        FleetSettings.from_mapping(table)


def test_a_bad_zone_stops_the_core_before_the_database_opens(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        sections={"fleet": {"timezone": "Mars/Olympus_Mons"}},
    )
    with pytest.raises(ConfigError, match=r"fleet\.timezone.*Mars/Olympus_Mons"):
        Core(settings)
    assert not (tmp_path / "x.sqlite3").exists()


def test_unset_the_fleet_is_where_the_machine_is() -> None:
    assert machine_zone_name({"TZ": "Asia/Kolkata"}) == "Asia/Kolkata"
    assert machine_zone_name({"TZ": ":America/St_Johns"}) == "America/St_Johns"
    assert FleetSettings.from_mapping({}, default_timezone="Asia/Kolkata").timezone == (
        "Asia/Kolkata"
    )
    assert FleetSettings.from_mapping({}).units is DistanceUnit.KM


def test_messaging_and_alerts_refuse_a_zone_of_their_own() -> None:
    from dispatcher.messaging.settings import messaging_settings

    with pytest.raises(ConfigError, match=r"\[fleet\] timezone"):
        messaging_settings({"timezone": "Europe/London"})


def test_a_manchester_window_reads_as_it_was_written(db_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[fleet]\ntimezone = "Europe/London"\n')
    csv = tmp_path / "manchester.csv"
    csv.write_text(MANCHESTER_CSV)
    day = date(2026, 3, 29)  # the UK's spring-forward day: 01:00 does not exist
    args = ["--config", str(cfg), "--db", db_url, "import", "orders", str(csv)]
    assert main([*args, "--date", day.isoformat()]) == 0
    core = Core(load_settings(cfg, env={}, overrides={"database_url": db_url}))
    try:
        (stop,) = [s for r in core.load_routes(day) for s in r.stops]
        zone = core.fleet.zone
        assert stop.window_start is not None and stop.window_end is not None
        assert f"{stop.window_start.astimezone(zone):%H:%M}" == "09:00"
        assert f"{stop.window_end.astimezone(zone):%H:%M}" == "12:00"
        assert stop.window_start.utcoffset() is not None
        offset = stop.window_start.astimezone(zone).utcoffset()
        assert offset is not None and offset.total_seconds() == 3600  # BST
    finally:
        core.close()


def test_the_demo_defaults_to_its_citys_zone_not_the_machines() -> None:
    from dispatcher.scenario.demo import TIMEZONE
    from dispatcher_ui.app import demo_zone

    assert demo_zone(Settings()) == TIMEZONE
    assert demo_zone(Settings(sections={"fleet": {"timezone": "Asia/Kolkata"}})) == "Asia/Kolkata"
