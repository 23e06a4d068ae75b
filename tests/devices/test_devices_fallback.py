"""Without Mosquitto there is no open broker on the LAN: amqtt stays on loopback."""

from __future__ import annotations

import pytest

from dispatcher.broker import EmbeddedBroker
from dispatcher.config import BrokerSettings
from dispatcher.devices import embedded
from dispatcher.errors import ConfigError
from dispatcher.persistence.database import Database


def test_an_anonymous_broker_never_listens_beyond_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        EmbeddedBroker("0.0.0.0", prefer="amqtt")
    with pytest.raises(ConfigError, match="loopback"):
        EmbeddedBroker("192.168.1.20", prefer="mosquitto")


def test_amqtt_fallback_is_loopback_only_and_refuses_listen(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)  # a machine without it
    db = Database(sqlite_url)
    try:
        with pytest.raises(ConfigError, match="needs Mosquitto"):
            embedded.start_app_broker(BrokerSettings(listen="0.0.0.0:8883"), db)
        app = embedded.start_app_broker(BrokerSettings(), db)
        try:
            assert app.broker.backend == "amqtt" and app.broker.host == "127.0.0.1"
            assert app.username is None
            assert "loopback only" in caplog.text
        finally:
            app.broker.stop()
    finally:
        db.dispose()
