"""The Bind… and Profile… dialog: which vehicle a device speaks for, and how its fields read.

A device's profile says what its battery and speed mean where devices of one format differ
(a Greenwich tracker's ``batt`` is a voltage, not a percentage). The dialog offers the
format's default or the device's own profile, and preselects what the core proposes
(:class:`~dispatcher.devices.desk.ProfileChoice`): the stored profile, else one guessed from
what the device sent, with the reason shown. The profile is built and checked here by the
core's own :class:`~dispatcher.telemetry.profiles.DeviceProfile`, so the dialog refuses what
``dispatcher devices bind --battery/--speed/--volts`` refuses, and stays open to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QWidget,
)

from dispatcher.devices.desk import ProfileChoice
from dispatcher.errors import ValidationError
from dispatcher.telemetry.profiles import SPEED_LABELS, DeviceProfile

BATTERY_TEXT = {
    "percent": "percent (0-100)",
    "volts": "volts (read between the range below)",
    "fraction": "fraction (0-1)",
    "auto": "auto (whole numbers %, decimals volts)",
}


class BindDialog(QDialog):
    """Choose the vehicle (Bind…) and the device's profile (Bind… and Profile…).

    ``locked_vehicle``: the device is bound already and only its profile changes.
    """

    def __init__(
        self,
        device_key: str,
        vehicles: Sequence[str],
        parent: QWidget | None,
        choice: ProfileChoice | None = None,
        *,
        locked_vehicle: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Device profile" if locked_vehicle else "Bind device")
        self.setObjectName("bind_device_dialog")
        self.setMinimumWidth(480)
        self.choice = choice
        default = choice.default if choice is not None else DeviceProfile()
        self.vehicle = QComboBox()
        self.vehicle.setObjectName("bind_vehicle")
        self.vehicle.addItems([locked_vehicle] if locked_vehicle else list(vehicles))
        self.vehicle.setEnabled(locked_vehicle is None)

        volts = self._profile_fields(default)
        self.hint = QLabel()
        self.hint.setObjectName("bind_hint")
        self.hint.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("bind_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d9534f")

        form = QFormLayout(self)
        form.addRow("Device", QLabel(device_key))
        form.addRow("Vehicle", self.vehicle)
        form.addRow("Profile", self.default_radio)
        form.addRow("", self.own_radio)
        form.addRow("Battery", self.battery)
        form.addRow("Volts", volts)
        form.addRow("Speed", self.speed)
        form.addRow(self.hint)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.vehicle.count() > 0)
        form.addRow(buttons)

        self.own_radio.toggled.connect(self._enable)
        self.battery.currentIndexChanged.connect(self._enable)
        self._preselect(choice, default)
        self._enable()

    # -- what was chosen ---------------------------------------------------------------------
    def chosen(self) -> str:
        return self.vehicle.currentText()

    def profile(self) -> DeviceProfile | None:
        """The device's own profile, or None for its format's default (ValidationError if
        the fields do not make a profile, e.g. the empty voltage above the full one)."""
        if not self.own_radio.isChecked():
            return None
        return DeviceProfile(
            battery=str(self.battery.currentData()),
            speed=str(self.speed.currentData()),
            volts_empty=round(self.volts_empty.value(), 2),
            volts_full=round(self.volts_full.value(), 2),
        )

    def set_profile(self, profile: DeviceProfile | None) -> None:
        """Show ``profile`` as the device's own (``None``: the format's default)."""
        if profile is None:
            self.default_radio.setChecked(True)
            return
        self.own_radio.setChecked(True)
        self.battery.setCurrentIndex(self.battery.findData(profile.battery))
        self.speed.setCurrentIndex(self.speed.findData(profile.speed))
        self.volts_empty.setValue(profile.volts_empty)
        self.volts_full.setValue(profile.volts_full)

    def accept(self) -> None:
        """Close only with a profile the core accepts; otherwise say why and stay open."""
        try:
            self.profile()
        except ValidationError as exc:
            self.error.setText(f"Not a profile: {exc}.")
            return
        super().accept()

    # -- internals ---------------------------------------------------------------------------
    def _profile_fields(self, default: DeviceProfile) -> QHBoxLayout:
        """The default/own choice, battery, speed and the volts range (returned as a row)."""
        self.default_radio = QRadioButton(f"Its format's default: {default.summary()}")
        self.own_radio = QRadioButton("Its own:")
        group = QButtonGroup(self)
        group.addButton(self.default_radio)
        group.addButton(self.own_radio)
        self.battery = QComboBox()
        self.battery.setObjectName("bind_battery")
        for unit, text in BATTERY_TEXT.items():
            self.battery.addItem(text, unit)
        self.speed = QComboBox()
        self.speed.setObjectName("bind_speed")
        for unit, text in SPEED_LABELS.items():
            self.speed.addItem(text, unit)
        self.volts_empty = _volts_box("bind_volts_empty")
        self.volts_full = _volts_box("bind_volts_full")
        volts = QHBoxLayout()
        volts.addWidget(self.volts_empty)
        volts.addWidget(QLabel("(0 %)  to"))
        volts.addWidget(self.volts_full)
        volts.addWidget(QLabel("(100 %)"))
        volts.addStretch(1)
        return volts

    def _preselect(self, choice: ProfileChoice | None, default: DeviceProfile) -> None:
        self.set_profile(default)  # the fields start from the default, if "own" is picked
        proposed = None if choice is None else choice.proposed
        self.set_profile(proposed)
        if choice is None:
            return
        if choice.stored is not None:
            self.hint.setText(f"Its own profile now: {choice.stored.summary()}.")
        elif choice.hint is not None:
            self.hint.setText(f"Detected — {choice.hint.reason}.")
        else:
            self.hint.setText(
                "Nothing it sent asks for another profile: its format's default reads it."
            )

    def _enable(self, *_: object) -> None:
        own = self.own_radio.isChecked()
        for widget in (self.battery, self.speed):
            widget.setEnabled(own)
        volts = own and self.battery.currentData() in ("volts", "auto")
        self.volts_empty.setEnabled(volts)
        self.volts_full.setEnabled(volts)
        self.error.clear()


def _volts_box(name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(0.0, 100.0)
    box.setDecimals(2)
    box.setSingleStep(0.1)
    box.setSuffix(" V")
    return box
