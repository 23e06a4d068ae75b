"""Stock device setups end to end on a real Mosquitto: a Traccar server forwarding on its
default topics, read by the live console with a device profile set at bind time."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime
from itertools import count

import pytest
from test_integration_live import wait_for

from dispatcher.clock import SystemClock
from dispatcher.config import Settings
from dispatcher.events import EventBus
from dispatcher.live import LiveTelemetry
from dispatcher.model.core import VehicleState
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from dispatcher.telemetry.profile_store import set_device_profile
from dispatcher.telemetry.profiles import DeviceProfile

pytestmark = pytest.mark.mqtt


def test_traccar_stock_forward_topics_reach_the_fleet_with_the_device_profile(
    mqtt_url: str, db_url: str
) -> None:
    db = Database(db_url)
    imei = f"35{uuid.uuid4().int % 10**13:013d}"  # a fresh device: the broker is shared
    with db.session() as session:
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=4, n_vehicles=1)
        )
        fleet_repo.bind_device(session, f"traccar:{imei}", "V01")
    # chosen when the device was bound: it reports its 12 V battery as volts, speed in km/h
    profile = DeviceProfile(battery="volts", speed="kmh", volts_empty=11.8, volts_full=12.8)
    set_device_profile(db, f"traccar:{imei}", profile)
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, f"t{uuid.uuid4().hex[:8]}"
    live = LiveTelemetry(settings, db, EventBus(), SystemClock(), console_id=f"c-{imei[-8:]}")
    live.start()
    pub = TelemetryClient(
        MqttSettings(url=mqtt_url, console_id=f"pub-{imei[-8:]}", clean_session=True),
        lambda *_: None,
    )
    pub.start()
    stamps = count()
    device = {"id": 7, "name": "VAN-07", "uniqueId": imei}

    def forward() -> None:  # Traccar forwards every fix; a fresh one until it is seen
        fix_time = datetime.fromtimestamp(time.time() - 30 + next(stamps) % 20, UTC).isoformat()
        position = {
            "fixTime": fix_time,
            "valid": True,
            "latitude": 52.5,
            "longitude": 13.4,
            "speed": 30.0,
            "accuracy": 5.0,
            "attributes": {"battery": 12.3},
        }
        pub.publish("positions", json.dumps({"position": position, "device": device}).encode())
        live.tick()

    try:
        assert pub.wait_connected(10) and live.client is not None
        wait_for(lambda: live.fleet.get("V01") is not None, tick=forward)
        snap = live.fleet.get("V01")
        assert snap is not None and snap.battery_pct == pytest.approx(50.0)
        assert snap.speed_kmh == pytest.approx(30.0)
        offline = {
            "event": {"id": 1, "type": "deviceOffline", "eventTime": datetime.now(UTC).isoformat()},
            "device": device,
        }

        def send_offline() -> None:
            pub.publish("events", json.dumps(offline).encode(), 1)
            live.tick()

        def went_offline() -> bool:
            now = live.fleet.get("V01")
            return now is not None and now.state is VehicleState.OFFLINE

        wait_for(went_offline, tick=send_offline)
    finally:
        pub.stop()
        live.stop()
        db.dispose()
