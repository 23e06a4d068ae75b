"""Per-device profiles stored by device key, and device text stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import inspect, select

from dispatcher.clock import FakeClock
from dispatcher.errors import ValidationError
from dispatcher.model.core import EventReport
from dispatcher.persistence import database as dbmod
from dispatcher.persistence import device_profile_repo, fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import VehicleEventRow
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.scenario.demo import demo_scenario
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Accepted, build_decoder
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
    set_device_profile(database, "traccar:1", GREENWICH)
    dbmod.downgrade(database.engine, "0002")
    assert "device_profiles" not in inspect(database.engine).get_table_names()
    dbmod.upgrade(database.engine)
    assert "device_profiles" in inspect(database.engine).get_table_names()
    assert load_device_profiles(database) == {}


def test_hostile_names_in_device_events_are_stored_on_both_databases(database: Database) -> None:
    """A NUL in a geofence or region name (PostgreSQL refuses it in text) loses no event."""
    with database.session() as session:
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=2, n_vehicles=1)
        )
    clock = FakeClock(datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    bindings = DeviceBindings({"traccar:1": "V01", "owntracks:a/b": "V01"}, clock=clock)
    decoder = build_decoder(clock=clock, bindings=bindings)
    fence = {
        "event": {"id": 9, "type": "geofenceEnter", "eventTime": "2026-11-20T06:59:00Z"},
        "device": {"uniqueId": "1"},
        "geofence": {"name": "Depot\u0000North"},
        "position": {"latitude": 52.5, "longitude": 13.4},
    }
    transition = {
        "_type": "transition",
        "event": "leave",
        "tst": 1795157900,
        "desc": "Home\u0000",
        "lat": "52.5",
        "lon": "13.4",
    }
    reports: list[EventReport] = []
    for topic, obj in (("events", fence), ("owntracks/a/b/event", transition)):
        result = decoder.decode(topic, json.dumps(obj).encode())
        assert isinstance(result, Accepted) and isinstance(result.report, EventReport), result
        reports.append(result.report)
    SqlTelemetrySink(database).write_events(reports)
    with database.session() as session:
        notes = sorted(session.scalars(select(VehicleEventRow.note)))
    assert notes == ["geofenceEnter DepotNorth", "leave Home"]
