"""The Devices dock: devices that spoke (unbound first), bind/unbind, profiles, quarantine.

Thin: every read and write goes through the core's
:class:`~dispatcher.devices.desk.DeviceDesk` off the GUI thread (``run_in_background``); the
desk applies a binding or a profile to the live tables at once and announces it to other
workstations. Bind… and Profile… first ask the desk what to offer (the stored profile, or
one guessed from what the device sent: a Greenwich tracker's volts), then open the dialog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dispatcher.clock import system_monotonic
from dispatcher.devices.desk import BindResult, DeviceDesk, ProfileChoice
from dispatcher.devices.registry_cli import health_line
from dispatcher.errors import DispatcherError
from dispatcher.persistence.device_repo import DeviceView, QuarantineView
from dispatcher.telemetry.profiles import DeviceProfile
from dispatcher_ui.devices.bind_dialog import BindDialog
from dispatcher_ui.devices.models import KEY_ROLE, SORT_ROLE, DevicesModel, QuarantineModel
from dispatcher_ui.workers import run_in_background

log = logging.getLogger(__name__)

#: Seconds between two reloads of the lists while the dock is shown.
REFRESH_EVERY_S = 5.0


class DevicesPanel(QWidget):
    """Devices table (sortable, filterable), Bind…/Profile…/Unbind, health line, quarantine tab.

    ``defaults``: each format's default profile (the devices list says what an unprofiled
    device reads as).
    """

    message = Signal(str)
    #: Settings… was clicked: the window opens the Device settings view.
    settings_requested = Signal()

    def __init__(
        self,
        desk: Callable[[], DeviceDesk],
        tz: ZoneInfo,
        defaults: Mapping[str, DeviceProfile] | None = None,
    ) -> None:
        super().__init__()
        self._desk = desk
        self.vehicles: list[str] = []
        #: The Bind…/Profile… dialog while it is open (tests answer it).
        self.bind_dialog: BindDialog | None = None
        self._busy = False
        self._again = False
        self._last = float("-inf")
        self._alive = True
        self.devices_model = DevicesModel(tz, self, defaults)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.devices_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.quarantine_model = QuarantineModel(tz, self)
        q_proxy = QSortFilterProxyModel(self)
        q_proxy.setSourceModel(self.quarantine_model)
        q_proxy.setSortRole(SORT_ROLE)

        self.table = _table(self.proxy)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.health = QLabel("Select a device to see its health.")
        self.health.setWordWrap(True)
        self.health.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.quarantine_table = _table(q_proxy)

        devices_tab = QWidget()
        lay = QVBoxLayout(devices_tab)
        lay.addLayout(self._toolbar())
        lay.addWidget(self.table)
        lay.addWidget(self.health)
        self.tabs = QTabWidget()
        self.tabs.addTab(devices_tab, "Devices")
        self.tabs.addTab(self.quarantine_table, "Quarantine")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.tabs)
        self.destroyed.connect(self._closed)

    def _toolbar(self) -> QHBoxLayout:
        """Filter, Unbound only, Bind…, Profile…, Unbind, Refresh, Settings…"""
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter devices (key, format, vehicle, topic)…")
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.unbound_only = QCheckBox("Unbound only")
        self.unbound_only.setChecked(True)
        self.unbound_only.toggled.connect(lambda _: self.refresh(force=True))
        self.bind_button = QPushButton("Bind…")
        self.bind_button.clicked.connect(self.bind_selected)
        self.profile_button = QPushButton("Profile…")
        self.profile_button.setToolTip("How the bound device's battery and speed read")
        self.profile_button.clicked.connect(self.profile_selected)
        self.unbind_button = QPushButton("Unbind")
        self.unbind_button.clicked.connect(self.unbind_selected)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda: self.refresh(force=True))
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setToolTip("Device settings: topics, format profiles, filters")
        self.settings_button.clicked.connect(self.settings_requested)
        top = QHBoxLayout()
        for w in (
            self.filter,
            self.unbound_only,
            self.bind_button,
            self.profile_button,
            self.unbind_button,
            refresh,
            self.settings_button,
        ):
            top.addWidget(w)
        return top

    # -- loading --------------------------------------------------------------------------
    def tick(self) -> None:
        """Per UI tick: reload the lists every ``REFRESH_EVERY_S`` while shown."""
        if self.isVisible():
            self.refresh()

    def refresh(self, *, force: bool = False) -> None:
        """Read devices, vehicles and the quarantine off the GUI thread (one at a time)."""
        now = system_monotonic()
        if self._busy:
            self._again = self._again or force
            return
        if not force and now - self._last < REFRESH_EVERY_S:
            return
        self._last, self._busy = now, True
        unbound, key = self.unbound_only.isChecked(), self.selected_key()
        desk = self._desk()

        def load() -> tuple[list[DeviceView], list[str], list[QuarantineView]]:
            return (
                desk.devices(unbound_only=unbound),
                desk.vehicle_ids(),
                desk.quarantine(key),
            )

        run_in_background(load, self._loaded, self._failed)

    def _loaded(self, result: tuple[list[DeviceView], list[str], list[QuarantineView]]) -> None:
        if not self._alive:
            return
        self._busy = False
        devices, self.vehicles, messages = result
        key = self.selected_key()
        self.devices_model.set_devices(devices)
        self.quarantine_model.set_messages(messages)
        self._select(key)
        self._selected()
        if self._again:
            self._again = False
            self.refresh(force=True)

    def _failed(self, exc: Exception) -> None:
        if not self._alive:
            return
        self._busy = False
        self.message.emit(f"Could not read the devices: {_text(exc)}")

    # -- selection ------------------------------------------------------------------------
    def selected_key(self) -> str | None:
        index = self.table.currentIndex()
        return None if not index.isValid() else str(index.data(KEY_ROLE))

    def selected_device(self) -> DeviceView | None:
        index = self.proxy.mapToSource(self.table.currentIndex())
        return self.devices_model.device(index.row()) if index.isValid() else None

    def select(self, device_key: str) -> bool:
        """Make ``device_key`` the current row (False when it is not listed)."""
        return self._select(device_key)

    def _select(self, key: str | None) -> bool:
        if key is None:
            return False
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(KEY_ROLE) == key:
                self.table.setCurrentIndex(index)
                return True
        return False

    def _selected(self) -> None:
        device = self.selected_device()
        self.health.setText(
            "Select a device to see its health." if device is None else health_line(device)
        )
        bound = device is not None and device.vehicle_id is not None
        self.unbind_button.setEnabled(bound)
        self.profile_button.setEnabled(bound)

    # -- actions --------------------------------------------------------------------------
    def bind_selected(self) -> None:
        """Ask for a vehicle and a profile, then bind (reads and writes off the GUI thread)."""
        if self._dialog_open():
            return
        device = self.selected_device()
        if device is None:
            self.message.emit("Select a device to bind first.")
            return
        key, desk = device.device_key, self._desk()
        run_in_background(
            lambda: desk.profile_choice(key),
            lambda choice: self._ask_bind(device, choice),
            self._refused,
        )

    def profile_selected(self) -> None:
        """Change the bound device's profile (the same dialog, its vehicle fixed)."""
        if self._dialog_open():
            return
        device = self.selected_device()
        if device is None or device.vehicle_id is None:
            self.message.emit("Select a bound device to change its profile.")
            return
        key, desk = device.device_key, self._desk()
        run_in_background(
            lambda: desk.profile_choice(key),
            lambda choice: self._ask_profile(device, choice),
            self._refused,
        )

    def _ask_bind(self, device: DeviceView, choice: ProfileChoice) -> None:
        if not self._alive:
            return
        dialog = self._open(BindDialog(device.device_key, self.vehicles, self, choice))
        if device.vehicle_id in self.vehicles:
            dialog.vehicle.setCurrentText(device.vehicle_id or "")
        had_own = choice.stored is not None

        def bind() -> None:
            key, vehicle, desk = choice.device_key, dialog.chosen(), self._desk()
            profile = dialog.profile()

            def work() -> BindResult:
                result = desk.bind(key, vehicle, profile)
                if profile is None and had_own:  # chosen back to the format's default
                    desk.set_profile(key, None)
                return result

            run_in_background(work, self._bound, self._refused)

        dialog.accepted.connect(bind)

    def _ask_profile(self, device: DeviceView, choice: ProfileChoice) -> None:
        if not self._alive:
            return
        dialog = BindDialog(device.device_key, [], self, choice, locked_vehicle=device.vehicle_id)
        self._open(dialog)

        def save() -> None:
            key, profile, desk = choice.device_key, dialog.profile(), self._desk()
            said = (
                f"{key} reads as its own profile: {profile.summary()}."
                if profile is not None
                else f"{key} reads as its format's default profile."
            )
            run_in_background(
                lambda: desk.set_profile(key, profile), lambda _: self._done(said), self._refused
            )

        dialog.accepted.connect(save)

    def _dialog_open(self) -> bool:
        """One Bind…/Profile… dialog at a time: a second click brings the open one forward."""
        if self.bind_dialog is None:
            return False
        self.bind_dialog.raise_()
        self.bind_dialog.activateWindow()
        return True

    def _open(self, dialog: BindDialog) -> BindDialog:
        """Show ``dialog`` window-modal without a nested event loop (it answers by signal)."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _: setattr(self, "bind_dialog", None))
        self.bind_dialog = dialog
        dialog.open()
        return dialog

    def unbind_selected(self) -> None:
        device = self.selected_device()
        if device is None or device.vehicle_id is None:
            self.message.emit("Select a bound device to unbind.")
            return
        key, desk = device.device_key, self._desk()
        run_in_background(
            lambda: (key, desk.unbind(key)),
            lambda r: self._done(f"{r[0]} unbound from {r[1]}."),
            self._refused,
        )

    def _bound(self, result: BindResult) -> None:
        if result.changed:
            self._done(f"{result.device_key} bound to {result.vehicle_id}.")
        else:
            self._done(f"{result.device_key} was already bound to {result.vehicle_id}.")

    def _done(self, text: str) -> None:
        if self._alive:
            self.message.emit(text)
            self.refresh(force=True)

    def _refused(self, exc: Exception) -> None:
        if self._alive:
            QMessageBox.warning(self, "Devices", _text(exc))

    def _closed(self, *_: Any) -> None:
        self._alive = False


def _table(model: QSortFilterProxyModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.horizontalHeader().setStretchLastSection(True)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    view.setWordWrap(False)
    return view


def _text(exc: Exception) -> str:
    return str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
