"""File > New order… : an order typed in by a dispatcher, urgent ones included.

The form only gathers text: the rules are the CSV's (``dispatcher.importing.new_order``), an
address without coordinates is placed by the configured geocoder, and storing runs off the
GUI thread. A refused order keeps the form filled in with the reason under it. An urgent
order without a vehicle goes straight to "best place" suggestions on the route boards.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)
from shiboken6 import isValid

from dispatcher.clock import system_now
from dispatcher.importing.new_order import create_order
from dispatcher.scenario.records import OrderRecord
from ui.workers import run_in_background

if TYPE_CHECKING:
    from ui.main_window import MainWindow

UNASSIGNED = "— not on a route yet —"


class NewOrderDialog(QDialog):
    """The form; :meth:`submit` stores the order in the background."""

    def __init__(self, window: MainWindow, timezone: str) -> None:
        super().__init__(window)
        self.window_ = window
        self.timezone = timezone
        self.created: tuple[int, OrderRecord] | None = None
        self.setWindowTitle("New order")
        self.setMinimumWidth(460)
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name, label, hint in (
            ("order_id", "Order id", "e.g. U-1042"),
            ("customer_name", "Customer", ""),
            ("phone", "Phone", "+44 7700 900123"),
            ("email", "Email", ""),
            ("address", "Address", "street, town, postcode — placed on the map for you"),
            ("lat", "Latitude", "optional when the address is given"),
            ("lon", "Longitude", "optional when the address is given"),
            ("window_start", "From", "HH:MM (optional)"),
            ("window_end", "To", "HH:MM (optional)"),
            ("service_min", "Minutes on site", "5"),
            ("demand", "Parcels", "1"),
            ("notes", "Notes", ""),
        ):
            edit = QLineEdit(placeholderText=hint)
            edit.setObjectName(f"order_{name}")
            self.fields[name] = edit
            form.addRow(label, edit)
        self.fields["order_id"].setText(f"U-{system_now().astimezone().strftime('%H%M%S')}")
        self.date = QDateEdit(calendarPopup=True)
        day = window.service_day or date.today()
        self.date.setDate(QDate(day.year, day.month, day.day))
        form.insertRow(5, "Date", self.date)
        self.kind = QComboBox()
        self.kind.addItems(["delivery", "pickup"])
        form.addRow("Kind", self.kind)
        self.vehicle = QComboBox()
        self.vehicle.addItem(UNASSIGNED, "")
        form.addRow("Vehicle", self.vehicle)
        # The vehicles are read off the GUI thread; the list fills in when they arrive.
        run_in_background(window.core.vehicle_names, self._vehicles_loaded, lambda exc: None)
        self.urgent = QCheckBox("Urgent: show the best vehicles for it now")
        self.urgent.setChecked(True)
        self.status = QLabel("")
        self.status.setObjectName("newOrderStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.urgent)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def _vehicles_loaded(self, names: dict[str, str]) -> None:
        if not isValid(self):
            return
        for vid, name in sorted(names.items()):
            self.vehicle.addItem(f"{name} ({vid})", vid)

    def values(self) -> dict[str, str]:
        out = {name: edit.text().strip() for name, edit in self.fields.items()}
        out["date"] = self.date.date().toString("yyyy-MM-dd")
        out["kind"] = self.kind.currentText()
        out["vehicle"] = str(self.vehicle.currentData() or "")
        return {k: v for k, v in out.items() if v}

    def submit(self) -> None:
        """Store in the background; the form stays until the database says yes."""
        fields = self.values()
        core = self.window_.core
        actor = core.user.id  # the core refuses a role that may not add orders
        day = self.date.date().toPython()
        assert isinstance(day, date)
        self.buttons.setEnabled(False)
        placing = "address" in fields and "lat" not in fields
        self.status.setText("Placing the address and saving…" if placing else "Saving…")

        def work() -> tuple[int, OrderRecord]:
            geocoder = core.geocoder()
            return create_order(
                core.db,
                fields,
                default_date=day,
                timezone=self.timezone,
                geocoder=geocoder,
                actor=actor,
            )

        run_in_background(work, self._saved, self._refused)

    def _saved(self, result: tuple[int, OrderRecord]) -> None:
        self.created = result
        stop_id, order = result
        self.window_.statusBar().showMessage(
            f"Order {order.order_ref} created at {order.lat:.5f}, {order.lon:.5f}", 15000
        )
        self.accept()
        self.window_.reload_routes()
        if self.urgent.isChecked() and not order.vehicle_id:
            _suggest_places(self.window_, str(stop_id))

    def _refused(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self.status.setText(f"Not saved: {exc}")


def _suggest_places(window: MainWindow, stop_id: str) -> None:
    """Open the route boards' "best place" suggestions for the new stop."""
    from ui.routes.insert_dialog import show_suggestions

    panel: Any = getattr(window, "routes_panel", None)
    day = None if panel is None else panel.controller.day
    if day is not None and stop_id in day.stops:
        show_suggestions(panel, stop_id)


def open_new_order(window: MainWindow, timezone: str) -> NewOrderDialog:
    """Show the form (non-modal: the console keeps running behind it)."""
    dialog = NewOrderDialog(window, timezone)
    window.last_new_order_dialog = dialog  # type: ignore[attr-defined]
    dialog.open()
    return dialog
