"""Per-device profiles stored by device key (SQLite and PostgreSQL), and the live reload."""

from __future__ import annotations

import pytest

from dispatcher.errors import ValidationError
from dispatcher.persistence import device_profile_repo
from dispatcher.persistence.database import Database
from dispatcher.telemetry.profile_store import (
    device_profile,
    load_device_profiles,
    set_device_profile,
)
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook

GREENWICH = DeviceProfile(battery="volts", speed="kmh", volts_empty=11.8, volts_full=12.7)


def test_set_and_look_up_a_device_profile(database: Database) -> None:
    book = ProfileBook()
    key = "owntracks:acme/van17"
    assert device_profile(database, key) is None
    set_device_profile(database, key, GREENWICH, book=book)
    assert device_profile(database, key) == GREENWICH
    assert book.get("owntracks", key) == GREENWICH
    # replacing, then forgetting
    set_device_profile(database, key, DeviceProfile(battery="percent"), book=book)
    assert load_device_profiles(database) == {key: DeviceProfile(battery="percent")}
    set_device_profile(database, key, None, book=book)
    assert device_profile(database, key) is None
    assert book.get("owntracks", key).battery == "auto"  # the format's stock profile


@pytest.mark.parametrize("key", ["no-format", ":x", "owntracks:", "traccar:" + "9" * 200, "a:\x00"])
def test_bad_device_keys_are_refused(database: Database, key: str) -> None:
    with pytest.raises(ValidationError):
        set_device_profile(database, key, GREENWICH)


def test_a_stored_row_gone_bad_is_skipped_on_reload(database: Database) -> None:
    set_device_profile(database, "traccar:1", GREENWICH)
    with database.session() as session:
        device_profile_repo.put_device_profile(
            session,
            "traccar:2",
            {"battery": "bogus", "speed": "kmh", "volts_empty": 1.0, "volts_full": 2.0},
        )
    assert load_device_profiles(database) == {"traccar:1": GREENWICH}


def test_revision_devices_1_goes_down_and_up(database: Database) -> None:
    from sqlalchemy import inspect

    from dispatcher.persistence import database as dbmod

    set_device_profile(database, "traccar:1", GREENWICH)
    dbmod.downgrade(database.engine, "0002")
    assert "device_profiles" not in inspect(database.engine).get_table_names()
    dbmod.upgrade(database.engine)
    assert "device_profiles" in inspect(database.engine).get_table_names()
    assert load_device_profiles(database) == {}
