"""A console with its embedded broker (real Mosquitto, TLS for phones)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from devices_support import Console, needs_mosquitto

from dispatcher.broker import free_port
from dispatcher.clock import SystemClock
from dispatcher.config import Settings
from dispatcher.devices.embedded import BrokerHome
from dispatcher.events import EventBus
from dispatcher.live import LiveTelemetry
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario


@pytest.fixture
def console(database: Database, db_url: str) -> Iterator[Console]:
    """A console on the day's demo fleet with its embedded broker; V01 bound to alice's phone."""
    needs_mosquitto()
    with database.session() as session:
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=6, n_vehicles=3)
        )
        fleet_repo.bind_device(session, "owntracks:alice/phone", "V01")
    tls_port = free_port()
    settings = Settings(database_url=db_url)
    settings.broker.listen = f"127.0.0.1:{tls_port}"
    live = LiveTelemetry(
        settings, database, EventBus(), SystemClock(), console_id=f"c-{uuid.uuid4().hex[:6]}"
    )
    live.start(embedded_broker=True)
    try:
        assert live.client is not None and live.client.wait_connected(10)
        yield Console(settings, database, live, BrokerHome(), tls_port)
    finally:
        live.stop()
