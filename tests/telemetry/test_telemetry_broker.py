"""The embedded broker: starts on a free loopback port, enforces per-device topics, stops."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.broker import EmbeddedBroker, find_mosquitto
from dispatcher.errors import ConfigError
from dispatcher.telemetry.mqtt_client import parse_broker_url

needs_mosquitto = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def connect(url: str, user: str | None = None, password: str | None = None) -> mqtt.Client:
    address = parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"c-{uuid.uuid4().hex[:6]}")
    client.user_data_set(threading.Event())
    client.on_subscribe = lambda c, userdata, mid, rc, p: userdata.set()
    if user:
        client.username_pw_set(user, password)
    client.connect(address.host, address.port, keepalive=5)
    client.loop_start()
    return client


def suback(client: mqtt.Client) -> bool:
    """Wait for the SUBACK of the client's subscription."""
    done = client.user_data_get()
    assert isinstance(done, threading.Event)
    return done.wait(10)


def roundtrip(url: str) -> bool:
    got: list[bytes | bytearray] = []
    sub = connect(url)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.subscribe("probe/#", qos=1)
    pub = connect(url)
    try:
        assert suback(sub)
        pub.publish("probe/x", b"hello", qos=1).wait_for_publish(5)
        return wait_until(lambda: got == [b"hello"])
    finally:
        for c in (sub, pub):
            c.loop_stop()
            c.disconnect()


@pytest.mark.mqtt
@needs_mosquitto
def test_mosquitto_on_a_free_loopback_port() -> None:
    with EmbeddedBroker(prefer="mosquitto") as broker:
        assert broker.backend == "mosquitto"
        assert broker.url.startswith("mqtt://127.0.0.1:") and broker.port > 0
        assert roundtrip(broker.url)
    assert not broker.running


def test_amqtt_fallback_in_a_thread() -> None:
    with EmbeddedBroker(prefer="amqtt") as broker:
        assert broker.backend == "amqtt" and broker.running
        assert roundtrip(broker.url)
    assert not broker.running


def test_amqtt_fallback_refuses_credentials() -> None:
    with pytest.raises(ConfigError, match="Mosquitto"):
        EmbeddedBroker(prefer="amqtt", users={"VAN-1": "pw"}).start()


@pytest.mark.mqtt
@needs_mosquitto
def test_a_device_may_only_speak_for_its_own_vehicle() -> None:
    users = {"console": "c-secret", "VAN-1": "v1-secret", "VAN-2": "v2-secret"}
    with EmbeddedBroker(prefer="mosquitto", users=users, console_users=["console"]) as broker:
        got: list[str] = []
        console = connect(broker.url, "console", "c-secret")
        console.on_message = lambda c, u, m: got.append(m.topic)
        console.subscribe([("fleet/vehicles/+/position", 0), ("owntracks/#", 0)])
        van1 = connect(broker.url, "VAN-1", "v1-secret")
        try:
            assert suback(console) and wait_until(van1.is_connected)
            van1.publish("fleet/vehicles/VAN-2/position", b"{}", qos=1).wait_for_publish(5)
            van1.publish("owntracks/VAN-2/phone", b"{}", qos=1).wait_for_publish(5)
            van1.publish("fleet/vehicles/VAN-1/position", b"{}", qos=1).wait_for_publish(5)
            van1.publish("owntracks/VAN-1/phone", b"{}", qos=1).wait_for_publish(5)
            # Mosquitto keeps one publisher's order: had the forbidden ones passed, they
            # would be here before the allowed ones.
            assert wait_until(lambda: len(got) >= 2)
            assert sorted(got) == ["fleet/vehicles/VAN-1/position", "owntracks/VAN-1/phone"]
        finally:
            for c in (console, van1):
                c.loop_stop()
                c.disconnect()


@pytest.mark.mqtt
@needs_mosquitto
def test_wrong_password_is_refused() -> None:
    with EmbeddedBroker(prefer="mosquitto", users={"VAN-1": "right"}) as broker:
        address = parse_broker_url(broker.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
        client.username_pw_set("VAN-1", "wrong")
        refused: list[bool] = []
        client.on_connect = lambda c, u, f, rc, p: refused.append(rc.is_failure)
        client.connect(address.host, address.port)
        client.loop_start()
        try:
            assert wait_until(lambda: bool(refused))
            assert refused == [True]
        finally:
            client.loop_stop()
            client.disconnect()


@needs_mosquitto
def test_a_port_taken_after_it_was_picked_is_picked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The OS's free port can be taken before mosquitto binds it (CI, 2026-12-05: "Address
    already in use"); a port the broker picked itself, it picks again."""
    import socket

    import dispatcher.broker as broker_module

    taken = socket.socket()  # bound, not listening: as an outgoing connection's port
    taken.bind(("127.0.0.1", 0))
    picks = [taken.getsockname()[1]]
    real = broker_module.free_port
    monkeypatch.setattr(
        broker_module, "free_port", lambda host="127.0.0.1": picks.pop() if picks else real(host)
    )
    broker = EmbeddedBroker()
    try:
        broker.start()
        assert broker.running and broker.port != taken.getsockname()[1]
        client = connect(broker.url)
        client.disconnect()
        client.loop_stop()
    finally:
        broker.stop()
        taken.close()


@needs_mosquitto
def test_a_configured_port_that_is_taken_is_an_error() -> None:
    import socket

    from dispatcher.broker import BrokerError

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(BrokerError, match="Address already in use"):
            EmbeddedBroker(port=taken.getsockname()[1]).start()
    finally:
        taken.close()
