"""The device settings an admin edits in the console: every ``[telemetry]`` key is listed,
read from the file with its default and source, and written back checked by the loader,
with comments kept — refused, with the file untouched, for bad values and non-admins."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher.config import Settings, load_settings
from dispatcher.errors import ConfigError, PermissionDenied, ValidationError
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry
from dispatcher.telemetry import settings as telemetry_settings
from dispatcher.telemetry.filters import FilterConfig
from dispatcher.telemetry.profiles import FORMATS, DeviceProfile
from dispatcher.telemetry.settings import TelemetrySettings
from dispatcher.telemetry.settings_edit import (
    DEFAULTS,
    SPECS,
    Kind,
    format_value,
    parse_value,
    read_view,
    save_changes,
    spec,
)
from dispatcher.users.desk import UserDesk

CONFIG = """\
# the owner's notes stay
[broker]
url = "mqtt://broker.lan:1883"  # our broker

[telemetry]
# iPhones in significant-change mode: keep their cell fixes
coarse_accuracy_m = 800

[telemetry.owntracks]
battery = "percent"
"""


def test_every_setting_the_loader_accepts_is_listed() -> None:
    """A key added to [telemetry] without a row in the console fails here."""
    accepted = {
        *telemetry_settings._TOPIC_KEYS,
        *telemetry_settings._TOPIC_LIST_KEYS,
        *telemetry_settings._REGISTRY_KEYS,
        *(f.name for f in fields(FilterConfig)),
        *(
            f"{fmt}.{name}"
            for fmt in FORMATS
            for name in DeviceProfile().to_mapping()  # battery, speed, volts_empty, volts_full
        ),
    }
    listed = {s.key.removeprefix("telemetry.") for s in SPECS if s.key.startswith("telemetry.")}
    assert listed == accepted
    assert "broker.prefix" in {s.key for s in SPECS}  # the native prefix, also a topic setting
    for key, value in DEFAULTS.items():  # each default is what the loader itself defaults to
        if key.startswith("telemetry.") and "." not in key.removeprefix("telemetry."):
            name = key.removeprefix("telemetry.")
            TelemetrySettings.from_mapping({name: value})  # accepted as written in the file
    assert DEFAULTS["telemetry.traccar_topics"] == ["positions", "traccar/positions"]
    assert DEFAULTS["telemetry.traccar.speed"] == "knots"
    assert DEFAULTS["telemetry.owntracks.battery"] == "auto"
    assert DEFAULTS["telemetry.max_accuracy_m"] is False


def test_a_missing_file_is_all_defaults(tmp_path: Path) -> None:
    view = read_view(tmp_path / "config.toml", Settings())
    assert not view.exists and not view.problem
    assert all(r.source == "default" and not r.pending for r in view.rows)
    assert view.row("telemetry.evict_after_s").value == 21600


def test_the_file_s_values_against_the_running_ones(tmp_path: Path) -> None:
    path = _config(tmp_path)
    running = load_settings(path, env={})
    path.write_text(CONFIG.replace("800", "1200"), encoding="utf-8")  # edited since the start
    view = read_view(path, running)
    coarse = view.row("telemetry.coarse_accuracy_m")
    assert (coarse.value, coarse.running, coarse.default) == (1200, 800, 500.0)
    assert coarse.in_file and coarse.pending
    battery = view.row("telemetry.owntracks.battery")
    assert (battery.value, battery.default, battery.source) == ("percent", "auto", "config file")
    assert view.row("telemetry.traccar_topics").source == "default"


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("telemetry.traccar_topics", "positions,  fleet/traccar ", ["positions", "fleet/traccar"]),
        ("telemetry.owntracks_root", " owntracks ", "owntracks"),
        ("telemetry.coarse_accuracy_m", "off", False),
        ("telemetry.coarse_accuracy_m", "750", 750),
        ("telemetry.max_age_s", "3600,5", 3600.5),
        ("telemetry.jump_confirmations", "4", 4),
        ("telemetry.traccar.speed", "kmh", "kmh"),
        ("telemetry.owntracks.volts_full", "12.7", 12.7),
    ],
)
def test_typed_text_becomes_the_file_s_value(key: str, text: str, value: object) -> None:
    setting = spec(key)
    assert parse_value(setting, text) == value
    assert parse_value(setting, format_value(setting, value)) == value


@pytest.mark.parametrize(
    ("key", "text", "said"),
    [
        ("telemetry.max_age_s", "two days", "give a number"),
        ("telemetry.max_age_s", "inf", "finite"),
        ("telemetry.jump_confirmations", "2.5", "whole number"),
        ("telemetry.coarse_accuracy_m", "", "give a number or off"),
        ("telemetry.traccar.speed", "kph", "one of kmh, ms, knots, mph"),
        ("telemetry.homeassistant_root", "  ", "give a topic"),
    ],
)
def test_text_that_is_no_value_is_refused_naming_the_setting(
    key: str, text: str, said: str
) -> None:
    with pytest.raises(ValidationError, match=said) as caught:
        parse_value(spec(key), text)
    assert spec(key).label in str(caught.value)
    assert spec(key).kind in Kind


def _config(tmp_path: Path) -> Path:
    """The owner's file, in a folder of its own (the SQLite database sits in tmp_path)."""
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _admin(database: Database) -> str:
    return UserDesk(database).login("owner").id  # the first login is the admin


def _audits(database: Database) -> list[AuditEntry]:
    with database.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.entity == "settings"))
        return list(rows)


def test_an_admin_saves_keeping_the_comments(database: Database, tmp_path: Path) -> None:
    path = _config(tmp_path)
    running = load_settings(path, env={})
    changes = {
        "telemetry.traccar_topics": ["positions"],
        "telemetry.owntracks.battery": None,  # back to the default: removed from the file
        "telemetry.traccar.speed": "kmh",
        "telemetry.max_accuracy_m": 5000,
    }
    view = save_changes(database, _admin(database), path, changes, running)
    text = path.read_text(encoding="utf-8")
    assert "# the owner's notes stay" in text and "# our broker" in text
    assert "# iPhones in significant-change mode" in text and "coarse_accuracy_m = 800" in text
    assert 'battery = "percent"' not in text
    reread = TelemetrySettings.from_settings(load_settings(path, env={}))
    assert reread.traccar_topics == ("positions",)
    assert reread.profiles["traccar"].speed == "kmh"
    assert reread.profiles["owntracks"].battery == "auto"
    assert reread.filters.max_accuracy_m == 5000
    topics = view.row("telemetry.traccar_topics")
    assert topics.value == ["positions"] and topics.pending and topics.in_file
    assert not view.row("telemetry.owntracks.battery").in_file
    (audit,) = _audits(database)
    assert audit.action == "settings.edit" and audit.actor == "owner"
    assert audit.before is not None and audit.after is not None
    assert audit.before["telemetry.owntracks.battery"] == "percent"
    assert audit.after["telemetry.traccar_topics"] == ["positions"]


def test_a_new_file_is_made_where_none_was(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    save_changes(database, _admin(database), path, {"broker.prefix": "acme"}, Settings())
    assert load_settings(path, env={}).broker.prefix == "acme"


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"telemetry.owntracks.volts_empty": 5.0}, "volts_empty must be below volts_full"),
        ({"telemetry.owntracks_root": "owntracks/+"}, "must not contain"),
        ({"telemetry.traccar_topics": ["positions", "a//b"]}, "empty topic level"),
        ({"broker.prefix": "fleet/"}, "invalid MQTT topic prefix"),
        ({"telemetry.max_age_s": -1}, "non-negative"),
    ],
)
def test_a_value_the_loader_refuses_is_not_written(
    database: Database, tmp_path: Path, changes: dict[str, object], said: str
) -> None:
    path = _config(tmp_path)
    with pytest.raises(ConfigError, match=said):
        save_changes(database, _admin(database), path, changes, Settings())
    assert path.read_text(encoding="utf-8") == CONFIG
    assert _audits(database) == []
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary file left


def test_only_an_admin_may_save(database: Database, tmp_path: Path) -> None:
    path = _config(tmp_path)
    _admin(database)
    dispatcher = UserDesk(database).login("dora").id
    with pytest.raises(PermissionDenied, match="dora has the dispatcher role"):
        save_changes(database, dispatcher, path, {"broker.prefix": "x"}, Settings())
    with pytest.raises(PermissionDenied, match="not a user"):
        save_changes(database, "nobody", path, {"broker.prefix": "x"}, Settings())
    assert path.read_text(encoding="utf-8") == CONFIG


def test_a_broken_file_is_shown_and_never_overwritten(database: Database, tmp_path: Path) -> None:
    path = _config(tmp_path)
    broken = CONFIG + "\n[telemetry.traccar]\nspeed = 'furlongs'\n"
    path.write_text(broken, encoding="utf-8")
    view = read_view(path, Settings())
    assert "speed must be one of" in view.problem
    assert view.row("telemetry.traccar.speed").value == "knots"  # the running value
    with pytest.raises(ConfigError, match="speed must be one of"):
        save_changes(database, _admin(database), path, {"broker.prefix": "x"}, Settings())
    path.write_text("[telemetry\n", encoding="utf-8")
    assert "not valid TOML" in read_view(path, Settings()).problem
    with pytest.raises(ConfigError, match="Cannot update"):
        save_changes(database, _admin(database), path, {"broker.prefix": "x"}, Settings())
    assert path.read_text(encoding="utf-8") == "[telemetry\n"
