"""The app's own clients log in to the embedded broker (console, recorder, alert sync, demo
fleet), and a credential made on another workstation reaches this broker without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from devices_support import needs_mosquitto, probe, wait_until

from dispatcher.alerts.sync import lease_topic
from dispatcher.app import add_alert_services
from dispatcher.config import BrokerSettings, Settings
from dispatcher.core import Core
from dispatcher.devices.credentials import DeviceCredentials
from dispatcher.devices.embedded import BrokerHome, CredentialWatcher, start_app_broker
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario

pytestmark = pytest.mark.mqtt


@pytest.fixture
def recorder(db_url: str) -> Iterator[Core]:
    needs_mosquitto()
    core = Core(Settings(database_url=db_url, embedded_broker=True))
    with core.db.session() as session:
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=4, n_vehicles=2)
        )
    try:
        yield core
    finally:
        core.close()


def test_serve_on_the_embedded_broker_holds_the_alert_lease_as_recorder(recorder: Core) -> None:
    live = recorder.start_live(embedded_broker=True, role="serve")
    add_alert_services(recorder, serve=True)  # its sync client logs in with the same secret
    assert live.client is not None and live.client.wait_connected(10)
    assert live.client.settings.username == "recorder"
    assert live.broker is not None
    home = BrokerHome()
    watcher = probe(live.broker.port, "console", home.system_secret("console"))
    try:
        watcher.subscribe(lease_topic("fleet") + "/#")  # one retained lease per process

        def leases() -> dict[str, bytes]:
            return {t: p for t, p in watcher.got if t.startswith(lease_topic("fleet")) and p}

        def lease_heard() -> bool:
            recorder.tick()
            return bool(leases())

        assert wait_until(lease_heard, timeout=20)
        assert any(b'"priority":1' in p.replace(b" ", b"") for p in leases().values())
    finally:
        watcher.close()


def test_the_demo_fleet_drives_on_the_authenticated_broker(recorder: Core) -> None:
    live = recorder.start_live(embedded_broker=True, simulate_seed=3)
    assert live.client is not None and live.client.wait_connected(10)

    def moving() -> bool:
        recorder.tick()
        return len(live.fleet.vehicle_ids()) > 0

    assert wait_until(moving, timeout=20)


def test_a_credential_made_elsewhere_reaches_the_running_broker(
    database: Database, tmp_path: Path
) -> None:
    needs_mosquitto()
    home = BrokerHome(tmp_path / "broker")
    app = start_app_broker(BrokerSettings(), database, home=home)
    watcher = CredentialWatcher(app, database, interval_s=0.1)
    watcher.start()
    try:
        # Another workstation: same database, no way to signal this machine's broker.
        issued = DeviceCredentials(database).create("native:V07", "ops")

        def accepted() -> bool:
            p = probe(app.broker.port, issued.username, issued.password)
            p.close()
            return p.refused == [False]

        assert wait_until(accepted)
    finally:
        watcher.stop()
        app.broker.stop()
