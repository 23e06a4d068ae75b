"""Test clients for the embedded broker: raw paho probes and the console fixture's type."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.broker import find_mosquitto
from dispatcher.config import Settings
from dispatcher.devices.embedded import BrokerHome
from dispatcher.live import LiveTelemetry
from dispatcher.persistence.database import Database

ACTOR = "ops-lead"


def needs_mosquitto() -> None:
    if find_mosquitto() is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("mosquitto must be installed in CI")
        pytest.skip("mosquitto is not installed (apt install mosquitto)")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass
class Probe:
    """A raw paho client that records what it hears and how its connection went."""

    client: mqtt.Client
    got: list[tuple[str, bytes]] = field(default_factory=list)
    refused: list[bool] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)

    def topics(self) -> list[str]:
        return [t for t, _ in list(self.got)]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def subscribe(self, *filters: str) -> None:
        self.subscribed.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def probe(
    port: int,
    user: str | None = None,
    password: str | None = None,
    *,
    ca: Path | None = None,
    host: str = "127.0.0.1",
    wait: bool = True,
) -> Probe:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"p-{uuid.uuid4().hex[:8]}",
        reconnect_on_failure=False,
    )
    p = Probe(client)
    if user is not None:
        client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda c, u, f, rc, props: p.refused.append(rc.is_failure)
    client.on_disconnect = lambda c, u, f, rc, props: p.disconnected.set()
    client.on_message = lambda c, u, m: p.got.append((m.topic, bytes(m.payload)))
    client.on_subscribe = lambda c, u, mid, rcs, props: p.subscribed.set()
    client.connect(host, port, keepalive=10)
    client.loop_start()
    if wait:
        assert wait_until(lambda: bool(p.refused)), "no CONNACK"
    return p


@dataclass
class Console:
    settings: Settings
    db: Database
    live: LiveTelemetry
    home: BrokerHome
    tls_port: int

    @property
    def loop_port(self) -> int:
        assert self.live.broker is not None
        return self.live.broker.port

    @property
    def ca(self) -> Path:
        return self.home.dir / "ca.crt"

    def console_probe(self) -> Probe:
        return probe(self.loop_port, "console", self.home.system_secret("console"))
