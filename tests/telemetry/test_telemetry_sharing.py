"""Recorders that share ingest: the ``[recorder]`` table, the shared filters, the identities.

The broker side (two recorders, one killed) is tests/integration/test_integration_shared.py.
"""

from __future__ import annotations

import pytest

from dispatcher.config import Settings
from dispatcher.errors import ConfigError
from dispatcher.events import EventBus
from dispatcher.live import LiveTelemetry, client_identity
from dispatcher.persistence.database import Database
from dispatcher.telemetry.sharing import RecorderSettings, shared_subscriptions


def test_without_the_table_a_recorder_shares_nothing() -> None:
    assert RecorderSettings.from_sections({}) == RecorderSettings("", "")


def test_the_table_names_the_group_and_the_flags_win() -> None:
    sections = {"recorder": {"shared_group": "dispatch", "instance": "a"}}
    assert RecorderSettings.from_sections(sections) == RecorderSettings("dispatch", "a")
    flags = RecorderSettings.from_sections(sections, share="night", instance="b")
    assert flags == RecorderSettings("night", "b")
    assert RecorderSettings.from_sections(sections, share="").shared_group == ""


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"shared_group": "a/b"}, "recorder.shared_group"),
        ({"shared_group": "+"}, "one MQTT topic level"),
        ({"instance": "x" * 41}, "recorder.instance"),
        ({"shared_group": 3}, "got 3"),
        ({"group": "dispatch"}, "unknown setting(s) group"),
    ],
)
def test_a_bad_table_is_refused_with_the_key(table: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as info:
        RecorderSettings.from_sections({"recorder": table})
    assert says in str(info.value)


def test_shared_filters_are_qos1_and_the_status_stays_each_recorders_own() -> None:
    subs = [
        ("fleet/vehicles/+/position", 0),
        ("fleet/vehicles/+/event", 1),
        ("fleet/vehicles/+/status", 0),
        ("owntracks/+/+", 0),
    ]
    assert shared_subscriptions(subs, "dispatch", "fleet") == [
        ("$share/dispatch/fleet/vehicles/+/position", 1),
        ("$share/dispatch/fleet/vehicles/+/event", 1),
        ("fleet/vehicles/+/status", 0),
        ("$share/dispatch/owntracks/+/+", 1),
    ]


def test_two_recorders_on_one_host_have_sessions_of_their_own() -> None:
    plain, a, b = (client_identity("serve", name) for name in ("", "a", "b"))
    assert plain.persistent and a.persistent and b.persistent
    assert plain.console_id.startswith("serve-")
    assert len({plain.console_id, a.console_id, b.console_id}) == 3
    assert a.console_id.endswith("-a") and a == client_identity("serve", "a"), "stable"


def test_a_shared_recorder_subscribes_as_a_member(sqlite_url: str) -> None:
    from dispatcher.clock import FakeClock

    settings = Settings(database_url=sqlite_url)
    db = Database(sqlite_url)
    try:
        live = LiveTelemetry(settings, db, EventBus(), FakeClock(), share_group="dispatch")
        alone = LiveTelemetry(settings, db, EventBus(), FakeClock())
        shared = live.subscriptions()
        assert {f for f, _ in shared if not f.startswith("$share/dispatch/")} == {
            "fleet/vehicles/+/status"
        }
        assert alone.subscriptions() == live.decoder.subscriptions()
        assert len(shared) == len(alone.subscriptions())
    finally:
        db.dispose()
