"""End to end on a real Mosquitto: what vehicles publish reaches the fleet state and the
database, and a recorder killed in the middle of a burst of delivery events loses none."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fleet_zone import DAY, demo_day
from sqlalchemy import func, select

from dispatcher.clock import SystemClock
from dispatcher.config import Settings
from dispatcher.events import EventBus
from dispatcher.live import LiveTelemetry
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PositionRow, Stop, Vehicle, VehicleEventRow
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from dispatcher.telemetry.rejection import RejectReason

pytestmark = pytest.mark.mqtt
REPO = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float = 15.0, tick=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def publisher(url: str) -> TelemetryClient:
    client = TelemetryClient(
        MqttSettings(url=url, console_id=f"pub-{uuid.uuid4().hex[:8]}", clean_session=True),
        lambda *_: None,
    )
    client.start()
    assert client.wait_connected(10)
    return client


def test_published_position_and_event_reach_fleet_state_and_database(
    mqtt_url: str, db_url: str
) -> None:
    db = Database(db_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(n_orders=20, n_vehicles=2))
        ref = fleet_repo.load_routes(session)[0].stops[0].order_ref
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, prefix
    live = LiveTelemetry(
        settings, db, EventBus(), SystemClock(), console_id=f"c-{uuid.uuid4().hex[:8]}"
    )
    live.start()
    pub = publisher(mqtt_url)
    try:
        assert live.client is not None and live.client.wait_connected(10)
        time.sleep(0.3)  # subscriptions are made in on_connect
        now = datetime.now(UTC).isoformat()
        pub.publish(
            f"{prefix}/vehicles/V01/position",
            json.dumps({"v": 1, "ts": now, "lat": 52.5, "lon": 13.4, "speed_kmh": 30}).encode(),
            0,
            False,
        )
        pub.publish(
            f"{prefix}/vehicles/V01/event",
            json.dumps(
                {"v": 1, "ts": now, "kind": "delivered", "event_id": "e-1", "stop_id": ref}
            ).encode(),
            1,
            False,
        )
        pub.publish(f"{prefix}/vehicles/V01/position", b"{not json", 0, False)
        wait_for(lambda: live.fleet.get("V01") is not None, tick=live.tick)
        fix = live.fleet.get("V01")
        assert fix is not None and fix.lat == pytest.approx(52.5)
        wait_for(lambda: live.stats().rejected >= 1, tick=live.tick)
        assert live.writer is not None and live.writer.flush(10)
        with db.session() as session:
            wait_for(lambda: session.scalar(select(func.count()).select_from(PositionRow)) == 1)
            assert session.scalar(select(VehicleEventRow.kind)) == "delivered"
            assert session.scalar(select(Stop.status).where(Stop.order_ref == ref)) == "done"
    finally:
        pub.stop()
        live.stop()
        db.dispose()


@pytest.mark.slow
def test_killed_recorder_loses_no_acknowledged_event(
    mqtt_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """QoS 1 events are acknowledged only after commit: kill -9 the recorder mid-burst,
    start it again, and every event published is in the database exactly once."""
    setup = Database(sqlite_url)
    with setup.session() as session:  # only vehicles of the fleet are recorded
        session.add_all(Vehicle(id=f"V{i:02d}", name=f"Van {i}") for i in range(5))
    setup.dispose()
    prefix = f"k{uuid.uuid4().hex[:8]}"
    cfg = tmp_path / "serve.toml"
    cfg.write_text(
        f'[broker]\nurl = "{mqtt_url}"\nprefix = "{prefix}"\nclient_id = "rec-{prefix}"\n'
    )
    cmd = [sys.executable, str(REPO / "main.py"), "--config", str(cfg), "--db", sqlite_url, "serve"]
    env = dict(os.environ)

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        assert "recording from" in proc.stdout.readline()
        time.sleep(1.0)  # connected and subscribed (persistent session from now on)
        return proc

    proc = start()
    pub = publisher(mqtt_url)
    n = 400
    try:
        for i in range(n):
            ts = datetime.now(UTC).isoformat()
            pub.publish(
                f"{prefix}/vehicles/V{i % 5:02d}/event",
                json.dumps(
                    {"v": 1, "ts": ts, "kind": "arrived", "event_id": f"burst-{i}"}
                ).encode(),
                1,
                False,
            )
            if i == n // 2:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=10)
        time.sleep(0.5)
        proc = start()
        db = Database(sqlite_url)
        try:

            def stored() -> int:
                with db.session() as session:
                    return int(
                        session.scalar(select(func.count(func.distinct(VehicleEventRow.event_id))))
                        or 0
                    )

            wait_for(lambda: stored() == n, timeout=30)
            with db.session() as session:
                assert session.scalar(select(func.count()).select_from(VehicleEventRow)) == n
        finally:
            db.dispose()
    finally:
        pub.stop()
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_time_lapse_simulator_is_accepted_by_a_real_time_recorder(
    mqtt_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """`dispatcher simulate --speed 20` on a real broker: a console on the wall clock takes
    every vehicle's fixes (none dated in the future) and stores them."""
    db = Database(sqlite_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(n_orders=30, n_vehicles=3))
    prefix = f"s{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=sqlite_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, prefix
    live = LiveTelemetry(
        settings, db, EventBus(), SystemClock(), console_id=f"c-{uuid.uuid4().hex[:8]}"
    )
    live.start()
    cfg = tmp_path / "sim.toml"
    cfg.write_text(f'[broker]\nurl = "{mqtt_url}"\nprefix = "{prefix}"\n')
    try:
        assert live.client is not None and live.client.wait_connected(10)
        time.sleep(0.3)
        base = [sys.executable, str(REPO / "main.py"), "--config", str(cfg), "--db", sqlite_url]
        sim = subprocess.run(
            [*base, "simulate", "--speed", "20", "--start", "09:30", "--duration", "4"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sim.returncode == 0, sim.stderr
        assert f"from {DAY} 09:30 at 20x" in sim.stdout

        def positioned() -> int:
            snaps = [live.fleet.get(v) for v in live.fleet.vehicle_ids()]
            return sum(1 for snap in snaps if snap is not None and snap.lat is not None)

        wait_for(lambda: positioned() == 3, tick=live.tick)
        # The phone the simulator bound a moment ago may be refused once, before the console
        # reloads its bindings (at once, on the first unknown message); nothing else is refused.
        entries = live.decoder.quarantine.entries()
        assert all(e.reason == RejectReason.UNKNOWN_DEVICE for e in entries), entries
        assert len(entries) <= 2
    finally:
        live.stop()
        db.dispose()
