"""The device registry in the database (SQLite and PostgreSQL): the flusher's batches, the
bounds of both tables, and binding refused with the reason — through ``dispatcher devices``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.devices.registry import DeviceRegistry, RegistryFlusher
from dispatcher.model.core import PositionReport
from dispatcher.model.devices import RegistryLimits
from dispatcher.persistence import device_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, DeviceBinding, QuarantineRow, Vehicle
from dispatcher.telemetry.rejection import Rejection, RejectReason
from main import main

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
NO_BROKER = ["--broker", "mqtt://127.0.0.1:9"]  # announcing is best effort


def with_vans(db: Database, *ids: str) -> None:
    with db.session() as session:
        session.add_all(Vehicle(id=v, name=f"Van {v}") for v in ids)


def flush(db: Database, registry: DeviceRegistry, limits: RegistryLimits) -> None:
    def write(sightings: list, messages: list) -> None:
        with db.session() as session:
            device_repo.flush(session, sightings, messages, limits)

    assert RegistryFlusher(registry, write).flush_now()


def test_unknown_devices_and_quarantine_are_stored_and_bounded(database: Database) -> None:
    limits = RegistryLimits(quarantine_per_device=3, quarantine_total=10, unknown_rows=5)
    registry = DeviceRegistry(limits)
    hostile = b'{"lat": 1}\x00\xff\xfe' + b"x" * 5000
    for round_ in range(3):
        for i in range(8):
            when = T0 + timedelta(seconds=round_ * 10 + i)
            key = f"owntracks:user{i}/phone"
            fix = PositionReport(key, when, 52.0 + i, 4.0, accuracy_m=12, battery_pct=70)
            registry.unknown(key, "owntracks", f"owntracks/user{i}/phone", when, fix)
            rejection = Rejection(RejectReason.UNKNOWN_DEVICE, "not bound")
            registry.rejected(key, "owntracks", "owntracks/x", hostile, rejection, when)
        flush(database, registry, limits)
    with database.session() as session:
        unknown = device_repo.list_devices(session, unbound_only=True)
        rows = session.query(QuarantineRow).all()
    assert [d.device_key for d in unknown] == [f"owntracks:user{i}/phone" for i in (7, 6, 5, 4, 3)]
    top = unknown[0]
    assert (top.messages, top.lat, top.accuracy_m, top.battery_pct) == (3, 59.0, 12, 70)
    assert top.rejections == {"unknown_device": 3}
    assert len(rows) == 10
    assert all(len(r.excerpt) <= 4 * limits.excerpt_bytes and "\x00" not in r.excerpt for r in rows)
    per_device: dict[str, int] = {}
    for r in rows:
        per_device[r.device_key] = per_device.get(r.device_key, 0) + 1
    assert max(per_device.values()) <= 3


def test_bind_and_unbind_refuse_with_the_reason(
    database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with_vans(database, "VAN-1", "VAN-2")
    db = ["--db", db_url, *NO_BROKER]
    assert main(["devices", "bind", "owntracks:anna/phone", "VAN-1", *db]) == 0
    assert "bound to VAN-1" in capsys.readouterr().out
    assert main(["devices", "bind", "owntracks:anna/phone", "VAN-1", *db]) == 0  # idempotent
    assert main(["devices", "bind", "owntracks:anna/phone", "VAN-2", *db]) == 2
    assert "already bound to VAN-1" in capsys.readouterr().err
    assert main(["devices", "bind", "owntracks:bob/phone", "NOPE", *db]) == 2
    assert "no vehicle 'NOPE'" in capsys.readouterr().err
    for bad in ("no-format", "x" * 300, "owntracks:a\x00b", ""):
        assert main(["devices", "bind", bad, "VAN-1", *db]) == 2
    assert main(["devices", "unbind", "owntracks:bob/phone", *db]) == 2
    assert "not bound" in capsys.readouterr().err
    assert main(["devices", "unbind", "owntracks:anna/phone", *db]) == 0
    with database.session() as session:
        assert session.query(DeviceBinding).count() == 0
        actions = [a.action for a in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert [a for a in actions if a.startswith("device.")] == ["device.bind", "device.unbind"]


def test_list_and_quarantine_as_json(
    database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with_vans(database, "VAN-1")
    registry = DeviceRegistry()
    registry.unknown("traccar:42", "traccar", "traccar/positions", T0)
    registry.rejected(
        "native:VAN-1",
        "native",
        "fleet/vehicles/VAN-1/position",
        b'{"v":1}',
        Rejection(RejectReason.POOR_ACCURACY, "accuracy 900 m"),
        T0,
    )
    flush(database, registry, RegistryLimits())
    db = ["--db", db_url, *NO_BROKER]
    assert main(["devices", "list", "--json", "--unbound", *db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["device_key"] for d in listed] == ["traccar:42"]
    assert listed[0]["unknown"] is True and listed[0]["vehicle_id"] is None
    assert main(["devices", "bind", "traccar:42", "VAN-1", *db]) == 0
    capsys.readouterr()
    assert main(["devices", "list", "--json", "--unbound", *db]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["devices", "quarantine", "native:VAN-1", "--json", *db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["device"]["rejections"] == {"poor_accuracy": 1}
    assert [m["reason"] for m in shown["messages"]] == ["poor_accuracy"]
    assert main(["devices", "quarantine", "native:VAN-1", *db]) == 0
    assert "rejected poor_accuracy 1" in capsys.readouterr().out
    assert main(["devices", "quarantine", "native:nobody", *db]) == 2


def test_a_viewer_may_look_but_not_bind(database: Database) -> None:
    from dispatcher.devices.desk import DeviceDesk
    from dispatcher.errors import PermissionDenied
    from dispatcher.persistence.orm import User

    with_vans(database, "VAN-1")
    with database.session() as session:
        session.add(User(username="vic", os_user="vic", role="viewer"))
    desk = DeviceDesk(database, actor="vic")
    with pytest.raises(PermissionDenied, match="viewer"):
        desk.bind("owntracks:vic/phone", "VAN-1")
    assert desk.devices() == []
    assert DeviceDesk(database, actor="dora").bind("owntracks:vic/phone", "VAN-1").changed
    with pytest.raises(PermissionDenied):
        desk.unbind("owntracks:vic/phone")


def test_a_greenwich_tracker_is_bound_with_its_battery_in_volts(
    database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23: the profile is chosen when the device is bound, and the decoder reads by it."""
    from dispatcher.telemetry.profile_store import device_profile

    with_vans(database, "VAN-1")
    db = ["--db", db_url, *NO_BROKER]
    key = "owntracks:fleet/greenwich"
    args = ["devices", "bind", key, "VAN-1", "--battery", "volts", "--volts", "11.8-12.7"]
    assert main([*args, *db]) == 0
    profile = device_profile(database, key)
    assert profile is not None and profile.battery == "volts"
    assert (profile.volts_empty, profile.volts_full) == (11.8, 12.7)
    assert profile.battery_pct(12.25) == pytest.approx(50.0)
    capsys.readouterr()
    bad = ["devices", "bind", "owntracks:fleet/other", "VAN-1", "--volts", "12"]
    assert main([*bad, *db]) == 2
    assert "is not EMPTY-FULL" in capsys.readouterr().err
    backwards = ["devices", "bind", "owntracks:fleet/other", "VAN-1", "--volts", "13-12"]
    assert main([*backwards, *db]) == 2
    assert device_profile(database, "owntracks:fleet/other") is None
