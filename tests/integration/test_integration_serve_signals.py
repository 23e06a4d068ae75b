"""``dispatcher serve`` under systemd or Docker: SIGTERM takes the same graceful path as Ctrl+C.

Stop intake, flush what was received, close, print the summary, exit 0 (issue 15, finding 9).
Before, SIGTERM killed the process on the spot (exit -15): no flush, no summary. (The broker is
shared with other tests, so the summary's counts are not compared with what this test sent.)
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_integration_live import REPO, publisher

from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import VehicleEventRow
from dispatcher.scenario.demo import demo_scenario

pytestmark = pytest.mark.mqtt


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_flushes_what_was_received_and_exits_0(
    mqtt_url: str, sqlite_url: str, tmp_path: Path, signum: signal.Signals
) -> None:
    db = Database(sqlite_url)
    with db.session() as session:  # V01 is a vehicle of the fleet: its events are stored
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=10, n_vehicles=2)
        )
    db.dispose()
    prefix = f"s{uuid.uuid4().hex[:8]}"
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'[broker]\nurl = "{mqtt_url}"\nprefix = "{prefix}"\n')
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "--config", str(cfg), "--db", sqlite_url, "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pub = publisher(mqtt_url)
    db = Database(sqlite_url)
    try:
        assert proc.stdout is not None
        assert "recording from" in proc.stdout.readline()

        def stored() -> int:
            with db.session() as session:
                return int(session.scalar(select(func.count()).select_from(VehicleEventRow)) or 0)

        def burst(start: int, n: int) -> None:
            for i in range(start, start + n):
                event = {"v": 1, "ts": datetime.now(UTC).isoformat(), "kind": "arrived"}
                event["event_id"] = f"sig-{i}"
                pub.publish(f"{prefix}/vehicles/V01/event", json.dumps(event).encode(), 1, False)

        # The recorder is subscribed once a first event is stored.
        deadline = time.monotonic() + 20
        while not stored() and time.monotonic() < deadline:
            burst(0, 1)
            time.sleep(0.2)
        burst(1000, 300)  # then stop it while a burst is arriving
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        pub.stop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    try:
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert re.search(r"received \d+, rejected \d+", out), out
        with db.session() as session:
            distinct = session.scalar(select(func.count(func.distinct(VehicleEventRow.event_id))))
        # What was taken in and acknowledged is stored once; the rest waits in the broker.
        assert distinct == stored() >= 1
    finally:
        db.dispose()
