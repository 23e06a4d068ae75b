"""Fleet > Driver app…: pair phones (QR code), see a stop's proof of delivery, talk to drivers.

Every database read and write runs off the GUI thread
(:func:`dispatcher_ui.workers.run_in_background`); the dialog only shows answers. Refusals are said
in the dialog as the core words them. The conversation refreshes every few seconds while the dialog
is open, so a driver's reply shows up without a click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dispatcher.core import Core
from dispatcher.devices.credentials import os_account
from dispatcher.driver.service import DriverService, Pairing, pairing_qr_png
from dispatcher.driver.settings import driver_service
from dispatcher.errors import DispatcherError
from dispatcher.messaging.service import MessagingService
from dispatcher.model.driver import ActionRefused, DeviceView, MessageView
from dispatcher.web.settings import WebSettings
from dispatcher_ui.driver.pod_view import LoadedPod, PodPanel, load_pods
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

MENU = "F&leet"
ACTION_TEXT = "&Driver app…"
REFRESH_MS = 4000


class DriverDeskDialog(QDialog):
    """The desk's side of the driver app (see the module)."""

    def __init__(
        self, core: Core, parent: QWidget | None = None, *, vehicle_id: str | None = None
    ) -> None:
        super().__init__(parent)
        self._wanted = vehicle_id
        self.setWindowTitle("Driver app")
        self.resize(720, 640)
        self._core = core
        self.service: DriverService = driver_service(core.settings, core.db, core.clock)
        self.pairing: Pairing | None = None
        self.busy = 0
        self.vehicle_box = QComboBox()
        self.vehicle_box.currentIndexChanged.connect(self._vehicle_changed)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._phones_tab(), "&Phones")
        self.tabs.addTab(self._pod_tab(), "Proof of &delivery")
        self.tabs.addTab(self._messages_tab(), "&Messages")
        top = QHBoxLayout()
        top.addWidget(QLabel("Vehicle"))
        top.addWidget(self.vehicle_box, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.load_messages)
        self._timer.start()
        self._run(core.vehicle_names, self._fill_vehicles)

    # -- tabs -------------------------------------------------------------------------------
    def _phones_tab(self) -> QWidget:
        tab = QWidget()
        self.pair_button = QPushButton("&Pair a phone with this vehicle")
        self.pair_button.clicked.connect(self.pair)
        self.qr_label = QLabel()
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pair_text = QLabel("")
        self.pair_text.setWordWrap(True)
        self.pair_text.setTextFormat(Qt.TextFormat.PlainText)
        self.pair_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.phone_list = QListWidget()
        self.revoke_button = QPushButton("&Unpair the selected phone")
        self.revoke_button.clicked.connect(self.revoke_selected)
        col = QVBoxLayout(tab)
        col.addWidget(self.pair_button)
        col.addWidget(self.qr_label)
        col.addWidget(self.pair_text)
        col.addWidget(QLabel("Phones paired with this vehicle"))
        col.addWidget(self.phone_list, 1)
        col.addWidget(self.revoke_button)
        return tab

    def _pod_tab(self) -> QWidget:
        tab = QWidget()
        self.order_edit = QLineEdit()
        self.order_edit.setPlaceholderText("order reference, e.g. ORD-20261120-0137")
        self.order_edit.returnPressed.connect(self.show_pod)
        show = QPushButton("&Show")
        show.clicked.connect(self.show_pod)
        zone = self._core.fleet.zone
        self.pod_panel = PodPanel(zone, self.service.policy.max_distance_m)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.pod_panel)
        row = QHBoxLayout()
        row.addWidget(self.order_edit, 1)
        row.addWidget(show)
        col = QVBoxLayout(tab)
        col.addLayout(row)
        col.addWidget(scroll, 1)
        return tab

    def _messages_tab(self) -> QWidget:
        tab = QWidget()
        self.message_list = QListWidget()
        self.message_list.setWordWrap(True)
        self.about_edit = QLineEdit()
        self.about_edit.setPlaceholderText("about order (optional)")
        self.message_edit = QLineEdit()
        self.message_edit.setPlaceholderText("Message to the driver")
        self.message_edit.returnPressed.connect(self.send_message)
        send = QPushButton("S&end")
        send.clicked.connect(self.send_message)
        row = QHBoxLayout()
        row.addWidget(self.about_edit)
        row.addWidget(self.message_edit, 2)
        row.addWidget(send)
        col = QVBoxLayout(tab)
        col.addWidget(self.message_list, 1)
        col.addLayout(row)
        return tab

    # -- behaviour ----------------------------------------------------------------------------
    @property
    def vehicle_id(self) -> str:
        return str(self.vehicle_box.currentData() or "")

    def _fill_vehicles(self, names: dict[str, str]) -> None:
        for vid, name in sorted(names.items()):
            self.vehicle_box.addItem(f"{vid} — {name}", vid)
        if self._wanted is not None and self.vehicle_box.findData(self._wanted) >= 0:
            self.vehicle_box.setCurrentIndex(self.vehicle_box.findData(self._wanted))

    def _vehicle_changed(self) -> None:
        self.message_list.clear()
        self.load_phones()
        self.load_messages()

    def pair(self) -> None:
        vid = self.vehicle_id
        if not vid:
            return
        base = WebSettings.from_sections(self._core.settings.sections).base_url()
        service = self.service

        def work() -> tuple[Pairing, bytes]:
            pairing = service.pair(vid, os_account(), base)
            return pairing, pairing_qr_png(pairing)

        self._run(work, self._paired)

    def _paired(self, result: tuple[Pairing, bytes]) -> None:
        self.pairing, png = result
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self.qr_label.setPixmap(pixmap)
        self.pair_text.setText(
            f"Scan with the driver's phone camera, or open on the phone:\n{self.pairing.url}\n"
            "Shown once: only a hash of the code is kept. Unpair the phone below if it is lost."
        )
        self.load_phones()

    def load_phones(self) -> None:
        vid, service = self.vehicle_id, self.service
        if vid:
            self._run(lambda: service.phones(vid), self._show_phones)

    def _show_phones(self, phones: list[DeviceView]) -> None:
        self.phone_list.clear()
        zone = self._core.fleet.zone
        for phone in phones:
            made = phone.created_at.astimezone(zone).strftime("%d %b %H:%M")
            seen = (
                phone.last_seen.astimezone(zone).strftime("%d %b %H:%M")
                if phone.last_seen
                else "never"
            )
            state = "UNPAIRED" if phone.revoked_at else "paired"
            item = QListWidgetItem(
                f"{phone.id} · {state} · paired {made} by {phone.created_by} · last seen {seen}"
            )
            item.setData(Qt.ItemDataRole.UserRole, phone.id)
            self.phone_list.addItem(item)

    def revoke_selected(self) -> None:
        item = self.phone_list.currentItem()
        if item is None:
            return
        device_id = str(item.data(Qt.ItemDataRole.UserRole))
        service = self.service
        self._run(lambda: service.revoke(device_id, os_account()), lambda _: self.load_phones())

    def show_pod(self, stop_ref: str | None = None) -> None:
        ref = (stop_ref or self.order_edit.text()).strip()
        if not ref:
            return
        self.order_edit.setText(ref)
        service = self.service

        def work() -> tuple[list[LoadedPod], list[MessageView]]:
            return load_pods(service, ref), service.conversation(stop_ref=ref)

        self._run(work, lambda found: self.pod_panel.show_pods(ref, *found))

    def load_messages(self) -> None:
        vid = self.vehicle_id
        if not vid or not self.isVisible():
            return
        service = self.service
        self._run(lambda: service.conversation(vehicle_id=vid), self._show_messages, quiet=True)

    def _show_messages(self, messages: list[MessageView]) -> None:
        zone = self._core.fleet.zone
        if self.message_list.count() == len(messages):
            return
        self.message_list.clear()
        for m in messages:
            who = "Desk" if m.direction == "desk" else "Driver"
            about = f" · order {m.stop_ref}" if m.stop_ref else ""
            when = m.created_at.astimezone(zone).strftime("%H:%M")
            item = QListWidgetItem(f"{when} {who} ({m.author}){about}: {m.body}")
            if m.direction == "driver":
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight)
            self.message_list.addItem(item)
        self.message_list.scrollToBottom()

    def send_message(self) -> None:
        vid, body = self.vehicle_id, self.message_edit.text().strip()
        about = self.about_edit.text().strip() or None
        if not vid or not body:
            return
        service = self.service
        self.message_edit.clear()

        def sent(_: Any) -> None:
            self.status.setText(f"Sent to the driver of {vid}")
            self.load_messages()

        messaging = self._core.find_service(MessagingService)
        outbox = messaging.messenger if messaging is not None else None  # native trackers
        self._run(
            lambda: service.send_to_driver(vid, body, os_account(), stop_ref=about, outbox=outbox),
            sent,
        )

    def _run(self, work: Any, done: Any, *, quiet: bool = False) -> None:
        self.busy += 1

        def ok(result: Any) -> None:
            self.busy -= 1
            done(result)

        def failed(exc: Exception) -> None:
            self.busy -= 1
            if quiet:
                return
            if isinstance(exc, ActionRefused):
                reason = exc.reason
            elif isinstance(exc, DispatcherError):
                reason = str(exc)
            else:
                reason = f"unexpected error: {exc}"
            self.status.setText(f"Refused: {reason}")

        run_in_background(work, ok, failed)


def open_driver_desk(
    window: Shell, stop_ref: str | None = None, vehicle_id: str | None = None
) -> DriverDeskDialog:
    """Open the dialog (non-modal); from a stop (a route board, an exception) it opens on
    that stop's proof of delivery, with messages about it to its vehicle's driver."""
    dialog = DriverDeskDialog(window.core, window, vehicle_id=vehicle_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    if stop_ref:
        dialog.tabs.setCurrentIndex(1)
        dialog.about_edit.setText(stop_ref)
        dialog.show_pod(stop_ref)
    return dialog


def add_driver_desk_action(window: Shell) -> QAction:
    """Fleet > Driver app…"""
    return window._action(
        window.menu(MENU),
        ACTION_TEXT,
        lambda: open_driver_desk(window),
        help="Pair drivers' phones, see proof of delivery, message drivers",
    )
