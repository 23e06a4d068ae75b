"""A device's profile chosen when it is bound, and changed later: Greenwich trackers are
recognised from what they sent, the choice is audited, shown in the devices list and applied
to the live profile book at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dispatcher.devices.desk import DeviceDesk
from dispatcher.devices.registry_cli import own_profile
from dispatcher.errors import PermissionDenied
from dispatcher.model.devices import QuarantinedMessage
from dispatcher.persistence import device_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, Vehicle
from dispatcher.telemetry.profile_guess import guess_profile
from dispatcher.telemetry.profiles import DeviceProfile, ProfileBook
from main import main

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
#: A Greenwich (qtripp) tracker's location: OwnTracks JSON, every number a string, batt in V.
GREENWICH = {
    "_type": "location",
    "tid": "qt",
    "tst": "1763622000",
    "lat": "48.856826",
    "lon": "2.292713",
    "acc": "0",
    "alt": "35",
    "batt": "12.43",
    "vel": "0",
    "cog": "0",
    "t": "t",
}
#: The iOS app's location: whole percents.
APP = {"_type": "location", "tst": 1763622000, "lat": 48.85, "lon": 2.29, "acc": 9, "batt": 81}


def _msg(topic: str, payload: Mapping[str, object] | str) -> tuple[str, str]:
    return topic, payload if isinstance(payload, str) else json.dumps(payload)


@pytest.mark.parametrize(
    ("messages", "battery", "volts"),
    [
        ([_msg("owntracks/fleet/gw1", GREENWICH)], "volts", (11.8, 12.7)),
        ([_msg("owntracks/fleet/gw1", {**GREENWICH, "batt": "4.05"})], "volts", (3.4, 4.2)),
        ([_msg("owntracks/fleet/gw1", {**GREENWICH, "batt": "25.1"})], "volts", (23.6, 25.4)),
        ([_msg("owntracks/fleet/gw1/voltage/batt", "12.1")], "volts", (11.8, 12.7)),
        # the newest message that shows a voltage wins; the app's percent shows none
        ([_msg("owntracks/a/p", APP), _msg("owntracks/a/p", GREENWICH)], "volts", (11.8, 12.7)),
        # an excerpt cut short is no JSON, but still shows the voltage
        ([_msg("owntracks/a/gw", '{"_type":"location","batt":"12.4')], "volts", (11.8, 12.7)),
    ],
)
def test_a_greenwich_tracker_is_recognised_by_its_voltage(
    messages: list[tuple[str, str]], battery: str, volts: tuple[float, float]
) -> None:
    hint = guess_profile("owntracks", messages)
    assert hint is not None and hint.profile.battery == battery
    assert (hint.profile.volts_empty, hint.profile.volts_full) == volts
    assert "Greenwich tracker" in hint.reason and "voltage" in hint.reason


@pytest.mark.parametrize(
    ("fmt", "messages"),
    [
        ("owntracks", [_msg("owntracks/a/phone", APP)]),  # an app: whole percents
        ("owntracks", [_msg("owntracks/a/gw", {**GREENWICH, "batt": "48.2"})]),  # no known kind
        ("traccar", [_msg("positions", '{"position": {"attributes": {"battery": 12.4}}}')]),
        ("owntracks", []),
    ],
)
def test_nothing_is_guessed_without_a_voltage(fmt: str, messages: list[tuple[str, str]]) -> None:
    assert guess_profile(fmt, messages) is None


def _heard(db: Database, key: str, topic: str, payload: Mapping[str, object]) -> None:
    """The device spoke while unbound: its message is in the quarantine, as the flusher puts it."""
    message = QuarantinedMessage(
        key, T0, topic, "unknown_device", "not bound", json.dumps(payload), 200
    )
    with db.session() as session:
        device_repo.flush(session, [], [message])


def test_bind_a_greenwich_tracker_with_the_proposed_profile_then_change_it(
    database: Database,
) -> None:
    with database.session() as session:
        session.add(Vehicle(id="VAN-1", name="Van 1"))
    key = "owntracks:fleet/gw1"
    _heard(database, key, "owntracks/fleet/gw1", GREENWICH)
    book = ProfileBook()
    desk = DeviceDesk(database, actor="owner", profiles=book)

    choice = desk.profile_choice(key)
    assert choice.stored is None and choice.default.battery == "auto"
    assert choice.hint is not None and choice.proposed == choice.hint.profile
    assert choice.proposed is not None and choice.proposed.volts_full == 12.7

    assert desk.bind(key, "VAN-1", choice.proposed).changed
    assert book.get("owntracks", key) == choice.proposed  # applied here at once
    (view,) = [v for v in desk.devices() if v.device_key == key]
    assert view.vehicle_id == "VAN-1"
    own = own_profile(view)
    assert own is not None and own.summary() == "battery volts 11.8-12.7 V, km/h"
    assert desk.profile_choice(key).stored == choice.proposed  # offered next time

    knots = DeviceProfile(battery="percent", speed="knots")
    assert desk.set_profile(key, knots)
    assert not desk.set_profile(key, knots)  # no change, no audit row
    assert book.get("owntracks", key) == knots
    assert desk.set_profile(key, None)  # back to the format's default
    assert book.get("owntracks", key).battery == "auto"
    device = desk.device(key)
    assert device is not None and device.profile is None
    with database.session() as session:
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.profile").order_by(AuditEntry.id)
        ).all()
    assert [(a.before is None, a.after is None) for a in audits] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    assert audits[1].after is not None and audits[1].after["speed"] == "knots"


def test_a_viewer_may_not_change_a_profile(database: Database) -> None:
    from dispatcher.users.desk import UserDesk

    owner = UserDesk(database).login("owner").id  # the first login: admin
    UserDesk(database).add(owner, "vic", "viewer", os_user="vic")
    with pytest.raises(PermissionDenied, match="viewer"):
        DeviceDesk(database, actor="vic").set_profile("owntracks:a/b", DeviceProfile())


def test_the_cli_lists_a_device_s_own_profile(
    database: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with database.session() as session:
        session.add(Vehicle(id="VAN-1", name="Van 1"))
    db = ["--db", db_url, "--broker", "mqtt://127.0.0.1:9"]
    key = "traccar:356938035643809"
    assert main(["devices", "bind", key, "VAN-1", "--speed", "kmh", *db]) == 0
    capsys.readouterr()
    assert main(["devices", "list", *db]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(key))
    assert line.endswith("profile: battery percent, km/h")
