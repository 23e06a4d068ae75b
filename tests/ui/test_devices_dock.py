"""The Devices dock in the real window: a phone nobody bound speaks, the dispatcher finds it
in the unknown list, binds it with Bind…, and its next fix moves the van on the live map."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence.orm import Vehicle
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from ui.devices.panel import BindDialog, DevicesPanel
from ui.main_window import MainWindow

WAIT = {"timeout": 20000}


@pytest.fixture
def core(db_url: str, mqtt_url: str) -> Iterator[Core]:
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, f"t{uuid.uuid4().hex[:8]}"
    settings.broker.client_id = f"c-{uuid.uuid4().hex[:8]}"
    c = Core(settings)
    with c.db.session() as session:
        session.add_all([Vehicle(id="VAN-1", name="Van 1"), Vehicle(id="VAN-2", name="Van 2")])
    live = c.start_live()
    assert live.client is not None and live.client.wait_connected(10)
    yield c
    c.close()


@pytest.fixture
def phone(mqtt_url: str) -> Iterator[TelemetryClient]:
    client = TelemetryClient(
        MqttSettings(url=mqtt_url, console_id=f"pub-{uuid.uuid4().hex[:8]}", clean_session=True),
        lambda *_: None,
    )
    client.start()
    assert client.wait_connected(10)
    yield client
    client.stop()


def location(lat: float, lon: float) -> bytes:
    return json.dumps(
        {"_type": "location", "lat": lat, "lon": lon, "tst": int(time.time()), "acc": 9}
    ).encode()


def listed(panel: DevicesPanel) -> list[str]:
    model = panel.devices_model
    return [model.device(r).device_key for r in range(model.rowCount())]


def test_bind_an_unknown_phone_from_the_dock_and_the_van_moves(
    qtbot,  # type: ignore[no-untyped-def]
    core: Core,
    phone: TelemetryClient,
    tmp_path: Path,
) -> None:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.show()
    user = f"u{uuid.uuid4().hex[:8]}"
    key = f"owntracks:{user}/phone"
    phone.publish(f"owntracks/{user}/phone", location(48.1371, 11.5754), 0, False)

    action = window.devices_action  # type: ignore[attr-defined]
    assert action.shortcut().toString() == "Ctrl+Shift+D"
    action.trigger()  # Fleet > Devices and quarantine…
    panel: DevicesPanel = window.devices_panel  # type: ignore[attr-defined]
    assert window.docks["devices"].isVisible()

    def shows_phone() -> bool:
        panel.refresh()
        return key in listed(panel)

    qtbot.waitUntil(shows_phone, **WAIT)
    panel.filter.setText(user)  # the filter narrows the list to this phone
    assert listed(panel) and panel.proxy.rowCount() == 1
    row = panel.table.visualRect(panel.proxy.index(0, 0)).center()
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(row))
    assert panel.selected_key() == key
    assert "rejected unknown_device" in panel.health.text()

    answered: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, BindDialog)
        dialog.vehicle.setCurrentText("VAN-2")
        answered.append(dialog.chosen())
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer)
    qtbot.mouseClick(panel.bind_button, Qt.MouseButton.LeftButton)
    assert answered == ["VAN-2"]
    qtbot.waitUntil(lambda: key not in listed(panel), **WAIT)
    assert core.live is not None and key in core.live.bindings  # at once, no 15-s reload

    phone.publish(f"owntracks/{user}/phone", location(48.1372, 11.5755), 0, False)

    def van_there() -> bool:
        snap = core.live.fleet.get("VAN-2")  # type: ignore[union-attr]
        return snap is not None and snap.lat == pytest.approx(48.1372)

    qtbot.waitUntil(van_there, **WAIT)
    window.close()
    QThreadPool.globalInstance().waitForDone(10000)


def test_device_and_quarantine_models_pass_the_model_tester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from dispatcher.persistence.device_repo import DeviceView, QuarantineView
    from ui.devices.models import DevicesModel, QuarantineModel

    when = datetime(2026, 11, 20, 7, tzinfo=UTC)
    devices = DevicesModel(ZoneInfo("UTC"))
    devices.set_devices(
        [
            DeviceView(
                "traccar:1",
                "traccar",
                "traccar/positions",
                when,
                when,
                3,
                True,
                None,
                52.0,
                4.0,
                when,
                8.0,
                70.0,
                1.5,
                {"unknown_device": 3},
            )
        ]
    )
    qtmodeltester.check(devices)
    messages = QuarantineModel(ZoneInfo("UTC"))
    messages.set_messages([QuarantineView(1, "", when, "x/y", "unknown_topic", "", "{}", 2)])
    qtmodeltester.check(messages)
