"""The devices room in the window: a Devices dock (hidden until asked for), its menu action
and shortcut, and the tick hook that keeps its lists current while it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from dispatcher.devices.desk import DeviceDesk
from ui.devices.panel import DevicesPanel

if TYPE_CHECKING:
    from ui.main_window import MainWindow

SHORTCUT = "Ctrl+Shift+D"


def desk_of(window: MainWindow) -> DeviceDesk:
    """The live desk (binds apply at once in this console) or one over the database."""
    live = window.core.live
    return live.device_desk() if live is not None else DeviceDesk(window.core.db)


def build(window: MainWindow) -> DevicesPanel:
    panel = DevicesPanel(lambda: desk_of(window), window.routes_model.timezone)
    panel.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    window.devices_panel = panel
    return panel


def install(window: MainWindow) -> None:
    panel = getattr(window, "devices_panel", None) or build(window)
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
    window.tick_hooks.append(panel.tick)


def open_devices(window: MainWindow) -> DevicesPanel:
    """Show and raise the dock and reload its lists."""
    dock = window.docks["devices"]
    dock.show()
    dock.raise_()
    panel: DevicesPanel = window.devices_panel
    panel.refresh(force=True)
    return panel
