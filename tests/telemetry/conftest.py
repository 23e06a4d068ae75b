"""Fixtures of the telemetry room: a fake clock, bindings, decoders and a real Mosquitto.

``mqtt_url`` honours ``DISPATCHER_TEST_MQTT_URL`` (CI runs a broker); otherwise it starts
``/usr/sbin/mosquitto`` on a free loopback port for the session, and skips with a clear
reason only when Mosquitto is not installed. ``own_mosquitto`` always spawns one (tests that
kill and restart the broker cannot use a shared one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.broker import EmbeddedBroker, find_mosquitto
from dispatcher.clock import FakeClock
from dispatcher.telemetry.bindings import DeviceBindings
from dispatcher.telemetry.decoder import Decoder, build_decoder

MQTT_ENV = "DISPATCHER_TEST_MQTT_URL"
T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def bindings(clock: FakeClock) -> DeviceBindings:
    return DeviceBindings(
        {
            "owntracks:eric/phone": "VAN-1",
            "traccar:356938035643809": "VAN-2",
            "homeassistant:van3": "VAN-3",
        },
        clock=clock,
    )


@pytest.fixture
def decoder(clock: FakeClock, bindings: DeviceBindings) -> Decoder:
    return build_decoder(clock=clock, bindings=bindings)


@pytest.fixture(scope="session")
def _session_mosquitto() -> Iterator[str]:
    url = os.environ.get(MQTT_ENV)
    if url:
        yield url
        return
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto) and no MQTT URL given")
    with EmbeddedBroker(prefer="mosquitto") as broker:
        yield broker.url


@pytest.fixture
def mqtt_url(_session_mosquitto: str) -> str:
    """URL of a running Mosquitto (shared by the session)."""
    return _session_mosquitto


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A Mosquitto of this test alone, with persistence, that the test may kill and restart."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    broker = EmbeddedBroker(prefer="mosquitto", persistence_dir=tmp_path / "mosquitto-db")
    broker.start()
    yield broker
    broker.stop()
