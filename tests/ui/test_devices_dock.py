"""The Devices dock in the real window: a phone nobody bound speaks, the dispatcher finds it
in the unknown list, binds it with Bind…, and its next fix moves the van on the live map."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QThreadPool
from PySide6.QtWidgets import QDialogButtonBox, QWidget
from routes_wait import wait_for_routes

from dispatcher.app import LiveOptions, build_core
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence.orm import Vehicle
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from dispatcher_ui.devices.bind_dialog import BindDialog
from dispatcher_ui.devices.models import DeviceColumn
from dispatcher_ui.devices.panel import DevicesPanel
from dispatcher_ui.main_window import MainWindow

WAIT = {"timeout": 20000}


@pytest.fixture
def core(db_url: str, mqtt_url: str) -> Iterator[Core]:
    settings = Settings(database_url=db_url)
    settings.broker.url, settings.broker.prefix = mqtt_url, f"t{uuid.uuid4().hex[:8]}"
    settings.broker.client_id = f"c-{uuid.uuid4().hex[:8]}"

    def vans(c: Core) -> None:
        with c.db.session() as session:
            session.add_all([Vehicle(id="VAN-1", name="Van 1"), Vehicle(id="VAN-2", name="Van 2")])

    c = build_core(settings, live=LiveOptions(), prepare=vans)  # the console's services
    live = c.live
    assert live is not None and live.client is not None and live.client.wait_connected(10)
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


def click_ok(qtbot, dialog: QWidget) -> None:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def listed(panel: DevicesPanel) -> list[str]:
    model = panel.devices_model
    return [model.device(r).device_key for r in range(model.rowCount())]


def test_bind_an_unknown_phone_from_the_dock_and_the_van_moves(
    qtbot,
    core: Core,
    phone: TelemetryClient,
    tmp_path: Path,
    answer_modal: Any,
) -> None:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    window.show()
    user = f"u{uuid.uuid4().hex[:8]}"
    key = f"owntracks:{user}/phone"
    phone.publish(f"owntracks/{user}/phone", location(48.1371, 11.5754), 0, False)

    action = window.devices_action
    assert action.shortcut().toString() == "Ctrl+Shift+D"
    action.trigger()  # Fleet > Devices and quarantine…
    panel: DevicesPanel = window.devices_panel
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

    def answer(dialog: QWidget) -> None:
        assert isinstance(dialog, BindDialog)
        assert dialog.default_radio.isChecked()  # a phone: its format's default reads it
        dialog.vehicle.setCurrentText("VAN-2")
        answered.append(dialog.chosen())
        click_ok(qtbot, dialog)

    answer_modal(answer)
    qtbot.mouseClick(panel.bind_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: answered == ["VAN-2"], **WAIT)
    qtbot.waitUntil(lambda: key not in listed(panel), **WAIT)
    live = core.live
    assert live is not None and key in live.bindings  # at once, no 15-s reload

    phone.publish(f"owntracks/{user}/phone", location(48.1372, 11.5755), 0, False)

    def van_there() -> bool:
        snap = live.fleet.get("VAN-2")
        return snap is not None and snap.lat == pytest.approx(48.1372)

    qtbot.waitUntil(van_there, **WAIT)
    window.close()
    QThreadPool.globalInstance().waitForDone(10000)


def greenwich(lat: float, lon: float, batt: str) -> bytes:
    """A Greenwich (qtripp) tracker's location: every number a string, ``batt`` in volts."""
    fix = {"_type": "location", "tid": "qt", "lat": str(lat), "lon": str(lon), "acc": "5"}
    return json.dumps({**fix, "tst": str(int(time.time())), "batt": batt, "vel": "0"}).encode()


def profile_of(panel: DevicesPanel, key: str) -> str:
    model = panel.devices_model
    for row in range(model.rowCount()):
        if model.device(row).device_key == key:
            return str(model.index(row, DeviceColumn.PROFILE).data())
    return ""


def test_bind_a_greenwich_tracker_with_its_volts_then_change_its_profile(
    qtbot,
    core: Core,
    phone: TelemetryClient,
    tmp_path: Path,
    answer_modal: Any,
) -> None:
    """Issue 23: the profile is chosen when the device is bound, Greenwich recognised."""
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    user = f"g{uuid.uuid4().hex[:8]}"
    key, topic = f"owntracks:{user}/tracker", f"owntracks/{user}/tracker"
    phone.publish(topic, greenwich(48.1371, 11.5754, "12.43"), 0, False)
    window.devices_action.trigger()
    panel: DevicesPanel = window.devices_panel

    def shows_tracker() -> bool:
        panel.refresh()
        return key in listed(panel)

    qtbot.waitUntil(shows_tracker, **WAIT)
    assert profile_of(panel, key) == "default: battery auto, km/h"
    assert panel.select(key)

    seen: dict[str, Any] = {}

    def bind(dialog: QWidget) -> None:
        assert isinstance(dialog, BindDialog)
        seen.update(
            hint=dialog.hint.text(),
            own=dialog.own_radio.isChecked(),
            battery=dialog.battery.currentData(),
            volts=(dialog.volts_empty.value(), dialog.volts_full.value()),
        )
        panel.bind_selected()  # a second Bind… brings this dialog forward, opens no other
        seen["dialogs"] = len(panel.findChildren(BindDialog))
        dialog.vehicle.setCurrentText("VAN-1")
        click_ok(qtbot, dialog)

    answer_modal(bind)
    qtbot.mouseClick(panel.bind_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "hint" in seen, **WAIT)
    assert "Greenwich tracker" in seen["hint"] and "12.43" in seen["hint"]
    assert seen["own"] and seen["battery"] == "volts" and seen["volts"] == (11.8, 12.7)
    assert seen["dialogs"] == 1
    live = core.live
    assert live is not None
    qtbot.waitUntil(lambda: key in live.bindings, **WAIT)
    assert live.profiles.get("owntracks", key).battery == "volts"  # at once, no reload

    phone.publish(topic, greenwich(48.1372, 11.5755, "12.25"), 0, False)

    def half_full() -> bool:
        snap = live.fleet.get("VAN-1")
        return snap is not None and snap.battery_pct == pytest.approx(50.0)

    qtbot.waitUntil(half_full, **WAIT)  # 12.25 V between 11.8 and 12.7 V: 50 %, not "12 %"

    change_back_to_the_default(qtbot, window, key, answer_modal)
    window.close()
    QThreadPool.globalInstance().waitForDone(10000)


def change_back_to_the_default(
    qtbot,
    window: MainWindow,
    key: str,
    answer_modal: Any,
) -> None:
    """Profile… on the bound tracker: an impossible range is refused in the dialog, then the
    format's default is chosen, and the list and the live profile book follow."""
    panel: DevicesPanel = window.devices_panel
    live = window.core.live
    assert live is not None
    seen: dict[str, Any] = {}
    panel.unbound_only.setChecked(False)
    qtbot.waitUntil(lambda: profile_of(panel, key) == "battery volts 11.8-12.7 V, km/h", **WAIT)
    assert panel.select(key) and panel.profile_button.isEnabled()

    def impossible(dialog: QWidget) -> None:
        assert isinstance(dialog, BindDialog)
        seen.update(title=dialog.windowTitle(), vehicle_fixed=not dialog.vehicle.isEnabled())
        dialog.volts_empty.setValue(13.0)
        click_ok(qtbot, dialog)
        seen.update(error=dialog.error.text(), still_open=dialog.isVisible())
        qtbot.mouseClick(dialog.default_radio, Qt.MouseButton.LeftButton)
        click_ok(qtbot, dialog)

    answer_modal(impossible)
    qtbot.mouseClick(panel.profile_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "error" in seen, **WAIT)
    assert seen["title"] == "Device profile" and seen["vehicle_fixed"]
    assert "volts_empty must be below volts_full" in seen["error"] and seen["still_open"]
    qtbot.waitUntil(lambda: profile_of(panel, key) == "default: battery auto, km/h", **WAIT)
    assert live.profiles.get("owntracks", key).battery == "auto"
    assert "reads as its format's default" in window.statusBar().currentMessage()


def test_device_and_quarantine_models_pass_the_model_tester(qtmodeltester) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from dispatcher.persistence.device_repo import DeviceView, QuarantineView
    from dispatcher_ui.devices.models import DevicesModel, QuarantineModel

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
                {"battery": "volts", "speed": "kmh", "volts_empty": 11.8, "volts_full": 12.7},
            )
        ]
    )
    qtmodeltester.check(devices)
    assert devices.index(0, DeviceColumn.PROFILE).data() == "battery volts 11.8-12.7 V, km/h"
    messages = QuarantineModel(ZoneInfo("UTC"))
    messages.set_messages([QuarantineView(1, "", when, "x/y", "unknown_topic", "", "{}", 2)])
    qtmodeltester.check(messages)
