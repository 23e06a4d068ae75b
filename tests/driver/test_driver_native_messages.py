"""A desk message to a driver reaches both of the driver's channels, once (issue 20).

The driver app reads the conversation (``driver_messages``); a tracker of the native MQTT
protocol reads ``<prefix>/vehicles/<id>/cmd``. One desk action feeds both: the outbox row
(``Messenger.send_to_driver``) is keyed by the conversation row, and the relay's real
:class:`DriverChannel` publishes it to a real Mosquitto.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from driver_support import route_refs, seeded, service
from fleet_zone import TZ_NAME
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from dispatcher.messaging.channels import DriverChannel
from dispatcher.messaging.compose import Branding, Messenger
from dispatcher.messaging.relay import Relay
from dispatcher.messaging.template_store import load_templates
from dispatcher.persistence import device_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import OutboxRow
from dispatcher.persistence.outbox_repo import SqlOutboxStore
from dispatcher.telemetry.mqtt_client import parse_broker_url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = seeded(db_url)
    yield db
    db.dispose()


def outbox_rows(db: Database) -> list[OutboxRow]:
    with db.session() as session:
        rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        session.expunge_all()
        return rows


def connect(url: str) -> mqtt.Client:
    address = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:6]}")
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.user_data_set(subscribed)
    client.connect(address.host, address.port, keepalive=5)
    client.loop_start()
    return client


def test_one_desk_message_reaches_the_app_and_a_native_tracker_once(
    db: Database, tmp_path: Path, mqtt_url: str
) -> None:
    svc = service(db, tmp_path)
    outbox = Messenger(
        SqlOutboxStore(db), load_templates(), svc.clock, Branding("Acme"), fleet_tz=TZ_NAME
    )
    ref = route_refs(db, "V01")[0]
    svc.send_to_driver("V01", "Depot closes at six", "erika", outbox=outbox)
    assert outbox_rows(db) == []  # no native tracker on V01 yet: the app alone

    with db.session() as session:
        device_repo.bind(session, "native:V01", "V01", actor="erika")
    sent = svc.send_to_driver("V01", "Gate code 4711", "erika", stop_ref=ref, outbox=outbox)
    rows = outbox_rows(db)
    assert [(r.channel, r.address, r.body, r.stop_ref) for r in rows] == [
        ("driver", "V01", "Gate code 4711", ref)
    ]
    talk = svc.conversation(vehicle_id="V01")
    assert [m.body for m in talk] == ["Depot closes at six", "Gate code 4711"]  # no duplicate
    assert talk[-1].id == sent.id

    tracker = connect(mqtt_url)
    publisher = connect(mqtt_url)
    got: list[dict[str, object]] = []
    prefix = f"t{uuid.uuid4().hex[:8]}"  # this test's own topics on the shared broker
    tracker.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    tracker.subscribe(f"{prefix}/vehicles/V01/cmd", qos=1)
    try:
        assert tracker.user_data_get().wait(10)

        def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            publisher.publish(topic, payload, qos, retain).wait_for_publish(5)

        relay = Relay(
            SqlOutboxStore(db),
            {"driver": DriverChannel(publish, svc.clock, prefix)},
            svc.clock,
            worker_id="test",
        )
        relay.run_once()
        relay.run_once()  # nothing left: sent once
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(got) == 1
        assert (got[0]["text"], got[0]["stop_ref"]) == ("Gate code 4711", ref)
        assert [r.status for r in outbox_rows(db)] == ["sent"]
    finally:
        for client in (tracker, publisher):
            client.loop_stop()
            client.disconnect()
