"""End to end on a real Mosquitto: a vehicle goes silent, then its last will arrives, then it
reports again; and a change made on one workstation reaches another within a second.

A scripted publisher plays the vehicle (a real MQTT client with a real last will, killed
without a goodbye so the broker delivers the will). The console side is the real core: live
telemetry, the rule runner on its worker thread, the SQL store, the sync service.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.alerts.events import AlertsChanged, ChangeSource
from dispatcher.alerts.runner import AlertRunner
from dispatcher.app import add_alert_services
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.alerts import Alert, AlertFilter, AlertKind, AlertStatus, ResolutionCode
from dispatcher.persistence.alert_repo import alert_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alerts_day import NEAR, T_UTC, store_day

pytestmark = pytest.mark.mqtt


def wait_for(
    condition: Callable[[], bool], tick: Callable[[], None], timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Vehicle:
    """A device for V1: publishes positions, has a retained last will saying offline."""

    def __init__(self, url: str, prefix: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.topic = f"{prefix}/vehicles/V1"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"v1-{uuid.uuid4().hex[:6]}"
        )
        self.client.will_set(
            f"{self.topic}/status", json.dumps({"v": 1, "state": "offline"}), qos=1, retain=True
        )
        self.client.connect(host, int(port))
        self.client.loop_start()

    def report(self, clock: FakeClock) -> None:
        fix = {
            "v": 1,
            "ts": clock.now().isoformat(),
            "lat": NEAR[0],
            "lon": NEAR[1],
            "speed_kmh": 20,
        }
        self.client.publish(f"{self.topic}/position", json.dumps(fix), qos=1).wait_for_publish(5)

    def die(self) -> None:
        """Vanish without DISCONNECT (battery out): the broker publishes the last will."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()

    def close(self) -> None:
        self.client.publish(f"{self.topic}/status", b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def console(db_url: str, mqtt_url: str, prefix: str, clock: FakeClock) -> Core:
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, prefix
    settings.broker.client_id = f"c-{uuid.uuid4().hex[:8]}"
    settings.sections["alerts"] = {"interval_s": 0.2}
    core = Core(settings, clock=clock)
    live = core.start_live()
    assert live.client is not None and live.client.wait_connected(10)
    add_alert_services(core)
    return core


def alerts_of(core: Core, kind: AlertKind) -> list[Alert]:
    with alert_store(core.db) as store:
        return store.list_alerts(AlertFilter(kinds=frozenset({kind})))


def is_open(core: Core, kind: AlertKind) -> bool:
    return any(a.is_open and a.subject == "vehicle:V1" for a in alerts_of(core, kind))


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T_UTC)


@pytest.fixture
def core(sqlite_url: str, mqtt_url: str, prefix: str, clock: FakeClock) -> Iterator[Core]:
    from dispatcher.persistence.database import Database

    db = Database(sqlite_url)
    store_day(db)
    db.dispose()
    c = console(sqlite_url, mqtt_url, prefix, clock)
    yield c
    c.close()


def test_silent_then_last_will_then_back_stale_offline_and_auto_resolve(
    core: Core, mqtt_url: str, prefix: str, clock: FakeClock
) -> None:
    assert core.live is not None
    live = core.live
    van = Vehicle(mqtt_url, prefix)
    try:
        van.report(clock)
        wait_for(lambda: "V1" in live.fleet, core.tick)
        clock.advance(timedelta(minutes=5).total_seconds())
        wait_for(lambda: is_open(core, AlertKind.VEHICLE_STALE), core.tick)
        assert not is_open(core, AlertKind.VEHICLE_OFFLINE)

        van.die()
        wait_for(lambda: is_open(core, AlertKind.VEHICLE_OFFLINE), core.tick)
        [stale] = alerts_of(core, AlertKind.VEHICLE_STALE)
        assert stale.status is AlertStatus.RESOLVED
        assert stale.resolution_code is ResolutionCode.SUPERSEDED

        van = Vehicle(mqtt_url, prefix)
        clock.advance(30)
        van.report(clock)
        wait_for(lambda: not is_open(core, AlertKind.VEHICLE_OFFLINE), core.tick)
        [offline] = alerts_of(core, AlertKind.VEHICLE_OFFLINE)
        assert offline.auto_resolved and offline.resolution_code is ResolutionCode.CAUSE_CLEARED
        assert not is_open(core, AlertKind.VEHICLE_STALE)
    finally:
        van.close()


def test_a_change_on_one_console_reaches_the_other_within_a_second(
    core: Core, sqlite_url: str, mqtt_url: str, prefix: str, clock: FakeClock
) -> None:
    other = console(sqlite_url, mqtt_url, prefix, clock)
    heard: list[AlertsChanged] = []
    other.bus.subscribe(AlertsChanged, heard.append)
    try:
        time.sleep(0.5)  # both sync connections subscribed
        core.bus.publish(AlertsChanged(frozenset({42}), frozenset(), ChangeSource.USER))
        start = time.monotonic()
        wait_for(lambda: any(e.source is ChangeSource.REMOTE for e in heard), other.tick, 5)
        assert time.monotonic() - start < 1.0
        remote = [e for e in heard if e.source is ChangeSource.REMOTE]
        assert remote[0].alert_ids == {42}
    finally:
        other.close()


def test_two_consoles_elect_one_rule_runner(
    core: Core, sqlite_url: str, mqtt_url: str, prefix: str, clock: FakeClock
) -> None:
    other = console(sqlite_url, mqtt_url, prefix, clock)
    runners = [next(s for s in c.services if isinstance(s, AlertRunner)) for c in (core, other)]

    def one_runs() -> bool:
        return sum(bool(r.active) for r in runners) == 1

    def tick_both() -> None:
        core.tick()
        other.tick()

    try:
        deadline = time.monotonic() + 3.0  # past both start graces and one lease renewal
        while time.monotonic() < deadline:
            tick_both()
            time.sleep(0.05)
        wait_for(one_runs, tick_both, 5)
        for _ in range(20):  # and it stays that way
            tick_both()
            time.sleep(0.05)
            assert one_runs()
    finally:
        other.close()
