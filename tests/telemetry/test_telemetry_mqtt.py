"""Against a real Mosquitto: publish → fleet state and storage; broker crash → nothing lost."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.broker import EmbeddedBroker
from dispatcher.clock import SystemClock
from dispatcher.events import EventBus
from dispatcher.fleet import FleetState
from dispatcher.model.core import VehicleState
from dispatcher.telemetry.decoder import build_decoder
from dispatcher.telemetry.ingest import IngestPipeline
from dispatcher.telemetry.mqtt_client import (
    ConnectionState,
    MqttSettings,
    TelemetryClient,
    parse_broker_url,
)
from dispatcher.telemetry.sink import BatchWriter, InMemorySink

pytestmark = pytest.mark.mqtt


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition (not a sleep-and-hope): True as soon as it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Console:
    """The console's telemetry stack wired like the app does it."""

    def __init__(self, url: str, prefix: str) -> None:
        self.sink = InMemorySink()
        self.writer = BatchWriter(self.sink, retry_initial_s=0.05)
        clock = SystemClock()
        decoder = build_decoder(prefix=prefix, clock=clock)
        self.pipeline = IngestPipeline(decoder, FleetState(), EventBus(), clock, writer=self.writer)
        self.states: list[tuple[ConnectionState, str]] = []
        settings = MqttSettings(
            url=url,
            console_id=f"test-{uuid.uuid4().hex[:6]}",
            prefix=prefix,
            reconnect_min_s=1,
            reconnect_max_s=2,
            keepalive_s=5,
        )
        self.client = TelemetryClient(
            settings,
            self.pipeline.on_message,
            subscriptions=decoder.subscriptions(),
            on_state=lambda s, why: self.states.append((s, why)),
        )

    def start(self) -> None:
        self.writer.start()
        self.client.start()
        assert self.client.wait_connected(10), self.states

    def stop(self) -> None:
        self.client.stop()
        self.writer.stop()

    def has_events(self, ids: set[str]) -> bool:
        return ids <= self.sink.event_ids()


def publisher(url: str) -> mqtt.Client:
    address = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.reconnect_delay_set(1, 2)
    client.connect_async(address.host, address.port, keepalive=5)
    client.loop_start()
    assert wait_until(client.is_connected)
    return client


def event_payload(event_id: str) -> bytes:
    return json.dumps(
        {"v": 1, "event_id": event_id, "kind": "delivered", "stop_id": "S-1", "ts": time.time()}
    ).encode()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"  # isolates tests sharing one broker


@pytest.fixture
def console(mqtt_url: str, prefix: str) -> Iterator[Console]:
    c = Console(mqtt_url, prefix)
    c.start()
    yield c
    c.stop()


def test_published_telemetry_reaches_fleet_state_and_storage(
    console: Console, mqtt_url: str, prefix: str
) -> None:
    pub = publisher(mqtt_url)
    try:
        for i in range(20):
            payload = {
                "v": 1,
                "ts": time.time() - 20 + i,
                "lat": 52.0 + i * 1e-4,
                "lon": 4.0,
                "speed_kmh": 25,
            }
            pub.publish(f"{prefix}/vehicles/VAN-{i % 4}/position", json.dumps(payload), qos=0)
        pub.publish(f"{prefix}/vehicles/VAN-1/event", event_payload("ev-1"), qos=1)
        pub.publish(f"{prefix}/vehicles/VAN-1/position", b"garbage", qos=0)

        def all_in() -> bool:
            console.pipeline.drain()
            return len(console.pipeline.fleet) == 4 and console.has_events({"ev-1"})

        assert wait_until(all_in)
        assert wait_until(lambda: len(console.sink.positions) == 20)
        assert wait_until(lambda: console.pipeline.stats.rejected == 1)
        snap = console.pipeline.fleet.get("VAN-3")
        assert snap is not None and snap.state is VehicleState.MOVING
    finally:
        pub.loop_stop()
        pub.disconnect()


def test_console_publishes_routes_retained_and_announces_itself(
    console: Console, mqtt_url: str, prefix: str
) -> None:
    console.client.publish_route("VAN-7", {"route_id": "R-1", "version": 3, "stops": []})
    received: dict[str, bytes | bytearray] = {}
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"drv-{uuid.uuid4().hex[:6]}")
    sub.on_message = lambda c, u, m: received.__setitem__(m.topic, m.payload)
    address = parse_broker_url(mqtt_url)
    sub.connect(address.host, address.port)
    sub.subscribe([(f"{prefix}/vehicles/VAN-7/route", 1), (f"{prefix}/console/+/status", 1)])
    sub.loop_start()
    try:
        route_topic = f"{prefix}/vehicles/VAN-7/route"
        assert wait_until(lambda: route_topic in received)  # retained: late subscribers get it
        assert json.loads(received[route_topic])["version"] == 3
        status = f"{prefix}/console/{console.client.settings.console_id}/status"
        assert wait_until(lambda: status in received)
        assert json.loads(received[status])["state"] == "online"
    finally:
        console.client.clear_route("VAN-7")
        sub.loop_stop()
        sub.disconnect()


@pytest.mark.slow
def test_broker_crash_and_restart_loses_no_delivery_event(own_mosquitto: EmbeddedBroker) -> None:
    prefix = "fleet"
    console = Console(own_mosquitto.url, prefix)
    console.start()
    pub = publisher(own_mosquitto.url)
    try:
        before = {f"before-{i}" for i in range(3)}
        for event_id in sorted(before):
            pub.publish(f"{prefix}/vehicles/VAN-1/event", event_payload(event_id), qos=1)
        assert wait_until(lambda: console.has_events(before))

        own_mosquitto.kill()
        assert wait_until(lambda: console.client.state is ConnectionState.DISCONNECTED)
        during = {f"during-{i}" for i in range(3)}  # queued by the publisher's client
        for event_id in sorted(during):
            pub.publish(f"{prefix}/vehicles/VAN-1/event", event_payload(event_id), qos=1)

        own_mosquitto.start()
        assert console.client.wait_connected(15), console.states
        after = {f"after-{i}" for i in range(3)}
        assert wait_until(pub.is_connected, 15)
        for event_id in sorted(after):
            pub.publish(f"{prefix}/vehicles/VAN-1/event", event_payload(event_id), qos=1)

        assert wait_until(lambda: console.has_events(before | during | after), 20), sorted(
            console.sink.event_ids()
        )
        connects = [s for s, _ in console.states if s is ConnectionState.CONNECTED]
        assert len(connects) >= 2  # reconnected (and so resubscribed in on_connect)
    finally:
        pub.loop_stop()
        pub.disconnect()
        console.stop()


def test_bad_broker_url_is_a_config_error() -> None:
    from dispatcher.errors import ConfigError

    for url in ("http://x", "mqtt://", "mqtt://user:pw@host", "mqtt://h:99999"):
        with pytest.raises(ConfigError):
            parse_broker_url(url)
    assert parse_broker_url("mqtts://broker.example").port == 8883
