"""Fleet > Device settings… in the real window: an admin sees every device setting with its
value, default and source, edits a few, is told what is wrong, saves (the file keeps its
comments) and is told the change runs after a restart; a dispatcher only looks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtWidgets import QComboBox, QLineEdit

from dispatcher.config import load_settings
from dispatcher.core import Core
from dispatcher.persistence.orm import Vehicle
from dispatcher.telemetry.settings import TelemetrySettings
from dispatcher.telemetry.settings_edit import SPECS
from dispatcher.users.desk import UserDesk
from dispatcher_ui.devices.settings_dialog import DeviceSettingsDialog
from dispatcher_ui.main_window import MainWindow

CONFIG = """\
# written by the owner
[telemetry]
coarse_accuracy_m = 800   # iPhones in significant-change mode

[telemetry.owntracks]
battery = "percent"
"""
WAIT = {"timeout": 15000}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _core(db_url: str, config: Path) -> Core:
    settings = load_settings(config, env={}, overrides={"database_url": db_url})
    core = Core(settings)
    with core.db.session() as session:
        session.add(Vehicle(id="VAN-1", name="Van 1"))
    return core


@pytest.fixture
def window(qtbot, db_url: str, config: Path, tmp_path: Path) -> Iterator[MainWindow]:
    core = _core(db_url, config)
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    QThreadPool.globalInstance().waitForDone(10000)
    core.close()


def open_settings(qtbot, window: MainWindow) -> DeviceSettingsDialog:
    entry = window.shortcuts.find("window", "Device settings")
    assert entry is not None and entry.action is not None
    entry.action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "device_settings_dialog", None) is not None, **WAIT)
    dialog = window.device_settings_dialog
    assert isinstance(dialog, DeviceSettingsDialog)
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def line(dialog: DeviceSettingsDialog, key: str) -> QLineEdit:
    editor = dialog.editors[key]
    assert isinstance(editor, QLineEdit)
    return editor


def row_text(dialog: DeviceSettingsDialog, key: str) -> list[str]:
    """The visible columns of a setting's row (the value from its editor)."""
    for top in range(dialog.tree.topLevelItemCount()):
        group = dialog.tree.topLevelItem(top)
        assert group is not None
        for i in range(group.childCount()):
            item = group.child(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole + 1) == key:
                dialog.tree.setCurrentItem(item)
                editor = dialog.editors[key]
                value = editor.currentText() if isinstance(editor, QComboBox) else editor.text()
                return [item.text(0), value, item.text(2), item.text(3)]
    raise KeyError(key)


def tooltip(dialog: DeviceSettingsDialog, column: int) -> str:
    """The tooltip of the current row's ``column`` (``row_text`` makes a row current)."""
    item = dialog.tree.currentItem()
    assert item is not None
    return item.toolTip(column)


def test_an_admin_edits_and_saves_the_device_settings(
    qtbot,
    window: MainWindow,
    config: Path,
) -> None:
    dialog = open_settings(qtbot, window)
    assert len(dialog.editors) == len(SPECS) and dialog.editable
    assert str(config) in dialog.header.text() and "restart" in dialog.header.text()
    assert row_text(dialog, "telemetry.coarse_accuracy_m") == [
        "[telemetry] coarse_accuracy_m",
        "800",
        "500",
        "config.toml",
    ]
    assert row_text(dialog, "telemetry.traccar_topics")[1:] == [
        "positions, traccar/positions",
        "positions, traccar/positions",
        "default",
    ]
    assert row_text(dialog, "telemetry.traccar.speed")[1:3] == ["knots", "knots"]

    # a wrong value is named, and nothing is written
    topics = line(dialog, "telemetry.traccar_topics")
    topics.selectAll()
    qtbot.keyClicks(topics, "positions")
    evict = line(dialog, "telemetry.evict_after_s")
    evict.selectAll()
    qtbot.keyClicks(evict, "six hours")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "evict_after_s: give a number" in dialog.status.text()
    assert config.read_text(encoding="utf-8") == CONFIG
    evict.selectAll()
    qtbot.keyClicks(evict, "7200")

    # a choice, and one setting back to its default (removed from the file)
    speed = dialog.editors["telemetry.traccar.speed"]
    assert isinstance(speed, QComboBox)
    speed.setCurrentText("kmh")
    row_text(dialog, "telemetry.owntracks.battery")  # selects its row
    qtbot.mouseClick(dialog.reset_button, Qt.MouseButton.LeftButton)
    battery = dialog.editors["telemetry.owntracks.battery"]
    assert isinstance(battery, QComboBox) and battery.currentText() == "auto"

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Saved"), **WAIT)
    assert "Saved 4 settings" in dialog.status.text() and "restart" in dialog.status.text()
    text = config.read_text(encoding="utf-8")
    assert "# written by the owner" in text and "# iPhones in significant-change mode" in text
    assert 'battery = "percent"' not in text
    saved = TelemetrySettings.from_settings(load_settings(config, env={}))
    assert saved.traccar_topics == ("positions",)
    assert saved.evict_after_s == 7200
    assert saved.profiles["traccar"].speed == "kmh"
    assert saved.profiles["owntracks"].battery == "auto"
    # shown as saved, with the value this console still runs until it restarts
    assert row_text(dialog, "telemetry.traccar_topics")[1:] == [
        "positions",
        "positions, traccar/positions",
        "config.toml · after restart",
    ]
    assert "runs positions, traccar/positions until it restarts" in tooltip(dialog, 3)
    assert row_text(dialog, "telemetry.owntracks.battery")[3] == "default · after restart"
    assert "runs percent until it restarts" in tooltip(dialog, 3)
    dialog.close()


def test_a_dispatcher_sees_the_settings_read_only(
    qtbot,
    db_url: str,
    config: Path,
    tmp_path: Path,
) -> None:
    core = _core(db_url, config)
    UserDesk(core.db).login("owner")  # the first login is the admin; this desk's is not
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    try:
        dialog = open_settings(qtbot, w)
        assert not dialog.editable
        assert "(dispatcher) may look; an admin changes them" in dialog.header.text()
        assert not dialog.save_button.isVisible() and not dialog.reset_button.isVisible()
        assert line(dialog, "telemetry.owntracks_root").isReadOnly()
        assert not dialog.editors["telemetry.traccar.speed"].isEnabled()
        assert row_text(dialog, "telemetry.coarse_accuracy_m")[1:] == [
            "800",
            "500",
            "config.toml",
        ]
        dialog.close()
    finally:
        w.close()
        QThreadPool.globalInstance().waitForDone(10000)
        core.close()


def test_the_devices_dock_opens_the_settings(
    qtbot,
    window: MainWindow,
) -> None:
    window.devices_action.trigger()
    panel = window.devices_panel
    qtbot.mouseClick(panel.settings_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(window, "device_settings_dialog", None) is not None, **WAIT)
    dialog = window.device_settings_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.windowTitle() == "Device settings"
    dialog.close()
