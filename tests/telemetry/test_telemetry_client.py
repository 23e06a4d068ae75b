"""The paho adapter's edges that need no broker: URLs, passwords, a failing handler."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from dispatcher.errors import ConfigError
from dispatcher.telemetry.credentials import resolve_password
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient, parse_broker_url


def test_password_comes_from_the_environment_first() -> None:
    env = {"DISPATCHER_MQTT_PASSWORD": "s3cret"}
    assert resolve_password("console", environ=env) == "s3cret"


def test_no_password_anywhere_is_none_not_a_crash() -> None:
    assert resolve_password("console", environ={}, keyring_service=None) is None
    assert resolve_password(None, environ={}) is None


def test_a_broken_keyring_is_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    def broken(service: str, user: str) -> str:
        raise RuntimeError("no D-Bus session")

    monkeypatch.setattr(keyring, "get_password", broken)
    assert resolve_password("console", environ={}) is None


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, False),
        ("mqtt://broker:11883", "broker", 11883, False),
        ("mqtts://broker.example", "broker.example", 8883, True),
    ],
)
def test_broker_urls(url: str, host: str, port: int, tls: bool) -> None:
    address = parse_broker_url(url)
    assert (address.host, address.port, address.tls) == (host, port, tls)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(ConfigError, match="keyring"):
        parse_broker_url("mqtt://van:pw@broker")


class _FakePaho:
    def __init__(self) -> None:
        self.acked: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append((mid, qos))


@pytest.mark.allow_error_logs  # the failure is provoked; it must be logged, not raised
def test_a_failing_handler_neither_kills_paho_nor_stalls_the_broker() -> None:
    def handler(topic: str, payload: bytes, ack: object) -> None:
        raise RuntimeError("bug downstream")

    client = TelemetryClient(MqttSettings(), handler)
    message = mqtt.MQTTMessage(mid=7, topic=b"fleet/vehicles/V1/event")
    message.qos = 1
    message.payload = b"{}"
    fake = _FakePaho()
    client._on_message(fake, None, message)  # type: ignore[arg-type]  # a fake paho client
    assert fake.acked == [(7, 1)]


def test_qos1_messages_get_an_ack_callable_and_qos0_none() -> None:
    seen: list[object] = []
    client = TelemetryClient(MqttSettings(), lambda t, p, ack: seen.append(ack))
    fake = _FakePaho()
    for qos in (0, 1):
        message = mqtt.MQTTMessage(mid=3, topic=b"t")
        message.qos = qos
        client._on_message(fake, None, message)  # type: ignore[arg-type]  # a fake paho client
    assert seen[0] is None and callable(seen[1])
    assert fake.acked == []  # not before the handler decides
    seen[1]()
    assert fake.acked == [(3, 1)]
