"""mqtts:// with a private CA, against a real Mosquitto TLS listener."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher.broker import EmbeddedBroker, find_mosquitto
from dispatcher.telemetry.mqtt_client import ConnectionState, MqttSettings, TelemetryClient

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away CA and a server certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=dispatcher-test-ca",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        cwd=d,
    )
    return d


@pytest.fixture
def tls_broker(pki: Path) -> Iterator[EmbeddedBroker]:
    tls = [
        f"cafile {pki / 'ca.crt'}",
        f"certfile {pki / 'server.crt'}",
        f"keyfile {pki / 'server.key'}",
    ]
    with EmbeddedBroker(prefer="mosquitto", extra_config=tls) as broker:
        yield broker


def test_mqtts_with_the_private_ca_connects(tls_broker: EmbeddedBroker, pki: Path) -> None:
    states: list[ConnectionState] = []
    settings = MqttSettings(
        url=f"mqtts://127.0.0.1:{tls_broker.port}", ca_file=str(pki / "ca.crt"), console_id="tls"
    )
    client = TelemetryClient(
        settings,
        lambda *a: None,
        subscriptions=[("fleet/#", 0)],
        on_state=lambda s, why: states.append(s),
    )
    client.start()
    try:
        assert client.wait_connected(10), states
    finally:
        client.stop()


# WORKAROUND for https://github.com/spacemanspiff2007/HABApp/issues/88 : paho leaves the
# socket of a failed TLS handshake to the garbage collector (ResourceWarning).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_mqtts_refuses_a_server_it_cannot_verify(tls_broker: EmbeddedBroker) -> None:
    settings = MqttSettings(url=f"mqtts://127.0.0.1:{tls_broker.port}", console_id="tls2")
    client = TelemetryClient(settings, lambda *a: None, subscriptions=[("fleet/#", 0)])
    client.start()
    try:
        assert not client.wait_connected(2)
        assert client.state is not ConnectionState.CONNECTED
    finally:
        client.stop()
