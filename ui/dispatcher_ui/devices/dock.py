"""The devices room in the window: a Devices dock (hidden until asked for), its menu action
and shortcut, Fleet > Device settings…, and the tick hook that keeps its lists current while
it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from dispatcher.devices.desk import DeviceDesk
from dispatcher.errors import ConfigError
from dispatcher.telemetry.profiles import STOCK_PROFILES, DeviceProfile, ProfileBook
from dispatcher.telemetry.settings import TelemetrySettings
from dispatcher_ui.devices.panel import DevicesPanel
from dispatcher_ui.devices.settings_dialog import add_device_settings_action, open_device_settings

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

SHORTCUT = "Ctrl+Shift+D"


def format_defaults(window: Shell) -> dict[str, DeviceProfile]:
    """Each format's default profile as configured (``[telemetry.<format>]``)."""
    try:
        return dict(TelemetrySettings.from_settings(window.core.settings).profiles)
    except ConfigError:  # the live feed refuses to start and says why; the list still shows
        return dict(STOCK_PROFILES)


def desk_of(window: Shell) -> DeviceDesk:
    """The live desk (binds apply at once in this console) or one over the database."""
    live = window.core.live
    if live is not None:
        return live.device_desk()
    return DeviceDesk(window.core.db, profiles=ProfileBook(format_defaults(window)))


def build(window: Shell) -> DevicesPanel:
    panel = DevicesPanel(
        lambda: desk_of(window), window.routes_model.timezone, format_defaults(window)
    )
    panel.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    panel.settings_requested.connect(lambda: open_device_settings(window))
    window.rooms.add(panel)
    return panel


def install(window: Shell) -> None:
    panel = window.rooms.find(DevicesPanel) or build(window)
    dock = QDockWidget("Devices", window)
    dock.setObjectName("dock_devices")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.docks["devices"] = dock
    if "kpis" in window.docks:
        window.tabifyDockWidget(window.docks["kpis"], dock)
    dock.hide()
    action = window._action(
        window.menu("F&leet"),
        "&Devices and quarantine…",
        lambda: open_devices(window),
        SHORTCUT,
        help="Devices: unknown devices, bind, quarantine",
    )
    window.devices_action = action
    add_device_settings_action(window)
    window.tick_hooks.append(panel.tick)


def open_devices(window: Shell) -> DevicesPanel:
    """Show and raise the dock and reload its lists."""
    dock = window.docks["devices"]
    dock.show()
    dock.raise_()
    panel = window.room(DevicesPanel)
    panel.refresh(force=True)
    return panel
