"""Fleet > Set up a driver's phone: the credential, the QR code OwnTracks scans, the .otrc file.

Thin over :func:`dispatcher.devices.phone.setup_phone` (the same thing ``dispatcher devices
credentials`` does): the database work and the broker reload run off the GUI thread; the
password is shown once in the dialog and in the QR code and saved only where the person
chooses (the .otrc file, mode 0600). Refusals (no permission, a live credential already, a key
no ACL can confine) are shown in the dialog as the core words them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dispatcher.core import Core
from dispatcher.devices.credentials import os_account
from dispatcher.devices.owntracks import config_json, qr_png
from dispatcher.devices.phone import PhoneSetup, setup_phone
from dispatcher.devices.pki import write_private
from dispatcher.errors import DispatcherError
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

MENU = "F&leet"
ACTION_TEXT = "Set up a driver's &phone…"


class PhoneSetupDialog(QDialog):
    """Make (or rotate) a phone's credential and hand its configuration over."""

    def __init__(self, core: Core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up a driver's phone")
        self._core = core
        self.setup: PhoneSetup | None = None
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("owntracks:alice/phone")
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("address phones dial (default: this machine's LAN IP)")
        self.rotate_box = QCheckBox("Replace the phone's current password (rotate)")
        self.make_button = QPushButton("&Make credential")
        self.make_button.clicked.connect(self.make_credential)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.qr_label = QLabel()
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.save_button = QPushButton("&Save OwnTracks file…")
        self.save_button.clicked.connect(self.choose_config_file)
        self.save_button.setEnabled(False)

        form = QFormLayout()
        form.addRow("Device key", self.key_edit)
        form.addRow("Broker address", self.host_edit)
        form.addRow("", self.rotate_box)
        row = QHBoxLayout()
        row.addWidget(self.make_button)
        row.addWidget(self.save_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.qr_label)
        layout.addWidget(buttons)

    def make_credential(self) -> None:
        """Create or rotate in the background; the answer fills the dialog."""
        key = self.key_edit.text().strip()
        host = self.host_edit.text().strip() or None
        rotate = self.rotate_box.isChecked()
        core = self._core
        self.make_button.setEnabled(False)
        self.message.setText("Making the credential…")

        def work() -> tuple[PhoneSetup, bytes | None]:
            setup = setup_phone(core.settings, core.db, key, os_account(), host=host, rotate=rotate)
            return setup, qr_png(setup.owntracks) if setup.owntracks is not None else None

        run_in_background(work, self._show, self._failed)

    def _show(self, result: tuple[PhoneSetup, bytes | None]) -> None:
        self.setup, png = result
        c = self.setup.credential
        self.make_button.setEnabled(True)
        lines = [
            f"Broker {self.setup.host}:{self.setup.port} with TLS — install the CA on the "
            f"phone once: {self.setup.ca_file}",
            f"User {c.username}, password {c.password} (shown once; only its hash is kept)",
        ]
        if self.setup.warning:
            lines.append(f"Note: {self.setup.warning}")
        self.message.setText("\n".join(lines))
        if png is not None:
            pixmap = QPixmap()
            pixmap.loadFromData(png, "PNG")
            self.qr_label.setPixmap(pixmap)
            self.qr_label.setToolTip("Scan this in the OwnTracks app")
        self.save_button.setEnabled(png is not None)

    def _failed(self, exc: Exception) -> None:
        self.make_button.setEnabled(True)
        reason = str(exc) if isinstance(exc, DispatcherError) else f"unexpected error: {exc}"
        self.message.setText(f"Refused: {reason}")

    def choose_config_file(self) -> None:
        dialog = QFileDialog(self, "Save OwnTracks configuration")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("OwnTracks configuration (*.otrc)")
        dialog.setDefaultSuffix("otrc")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        if dialog.exec() and dialog.selectedFiles():
            self.save_config(Path(dialog.selectedFiles()[0]))

    def save_config(self, path: Path) -> None:
        """Write the .otrc file readable by this user only (it holds the password)."""
        if self.setup is None or self.setup.owntracks is None:
            return
        try:
            write_private(path, config_json(self.setup.owntracks).encode())
        except OSError as exc:
            self.message.setText(f"Could not save {path}: {exc}")
            return
        self.message.setText(self.message.text() + f"\nSaved {path}")


def open_phone_setup(window: Shell) -> PhoneSetupDialog:
    """Open the dialog (non-modal: the console stays usable)."""
    dialog = PhoneSetupDialog(window.core, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def add_phone_setup_action(window: Shell) -> QAction:
    """Fleet > Set up a driver's phone…"""
    return window._action(window.menu(MENU), ACTION_TEXT, lambda: open_phone_setup(window))
