"""A device bound on the command line is accepted by a running recorder from its next
message on: the CLI's note on the console sync topic makes the recorder reload at once."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.app import add_alert_services
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence.orm import Vehicle
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from main import main


def wait_for(condition, tick, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_cli_binding_reaches_a_running_recorder_through_the_sync_note(
    mqtt_url: str, db_url: str, tmp_path: Path
) -> None:
    prefix = f"d{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, prefix
    settings.broker.client_id = f"rec-{prefix}"
    core = Core(settings)
    with core.db.session() as session:
        session.add(Vehicle(id="VAN-1", name="Van 1"))
    live = core.start_live(role="serve")
    assert live.client is not None and live.client.wait_connected(10)
    add_alert_services(core, serve=True)
    live._refresher._interval = 3600.0  # only the note may trigger the reload here
    phone = TelemetryClient(
        MqttSettings(url=mqtt_url, console_id=f"pub-{prefix}", clean_session=True),
        lambda *_: None,
    )
    phone.start()
    assert phone.wait_connected(10)
    config = tmp_path / "cli.toml"
    config.write_text(f'[broker]\nurl = "{mqtt_url}"\nprefix = "{prefix}"\n')
    heard: list[str] = []
    try:
        time.sleep(0.5)  # the sync connection subscribes in on_connect
        cli = ["--config", str(config), "--db", db_url]
        assert main(["devices", "bind", "traccar:9911", "VAN-1", *cli]) == 0
        # well before the periodic reload (15 s, and made hourly above) could do it
        wait_for(lambda: "traccar:9911" in live.bindings, core.tick, timeout=10)
        now = datetime.now(UTC).isoformat()
        fix = {
            "position": {"latitude": 51.5, "longitude": -0.12, "fixTime": now},
            "device": {"uniqueId": "9911"},
        }
        phone.publish("traccar/positions", json.dumps(fix).encode(), 0, False)
        wait_for(lambda: live.fleet.get("VAN-1") is not None, core.tick)
        heard.append("ok")
    finally:
        phone.stop()
        core.close()
    assert heard == ["ok"]
