"""File > New order… : an order typed in by a dispatcher, urgent ones included.

The form only gathers text: the rules are the CSV's (``dispatcher.importing.new_order``), an
address without coordinates is placed by the configured geocoder, and storing runs off the
GUI thread. A refused order keeps the form filled in with the reason under it. An urgent
order without a vehicle goes straight to "best place" suggestions on the route boards.

When the order is refused for its place (the geocoder found nothing, is down or is off, or
the coordinates are wrong), the form offers **Place on map**: it steps aside, the map's pick
mode (ui/dispatcher_ui/map/pick.py) asks "Click where <customer, address> is", and the click fills
in the coordinates and saves the order, placed by hand (the address's pin is remembered).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

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
from dispatcher.importing.orders_csv import FieldRefused
from dispatcher.scenario.records import OrderRecord
from dispatcher_ui.map.pick import PickRequest, PositionPicker
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

UNASSIGNED = "— not on a route yet —"
#: A refusal for one of these fields is about where the order is: the map can answer it.
PLACE_FIELDS = ("address", "lat", "lon")


class NewOrderDialog(QDialog):
    """The form; :meth:`submit` stores the order in the background."""

    def __init__(self, window: Shell, timezone: str) -> None:
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
            ("skills", "Needs", "skills of the vehicle, e.g. cold, lift (optional)"),
            ("weight_kg", "Weight (kg)", "0"),
            ("volume_l", "Volume (l)", "0"),
            ("pair", "Pair", "shipment key joining a pickup to its delivery (optional)"),
            ("notes", "Notes", ""),
        ):
            edit = QLineEdit(placeholderText=hint)
            edit.setObjectName(f"order_{name}")
            self.fields[name] = edit
            form.addRow(label, edit)
        self.fields["order_id"].setText(f"U-{system_now().astimezone().strftime('%H%M%S')}")
        self.date = QDateEdit()
        self.date.setCalendarPopup(True)
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
        #: Offered when the order is refused for its place (see the module docstring).
        self.place_button = self.buttons.addButton(
            "Place on map", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.place_button.setObjectName("placeOnMap")
        self.place_button.setToolTip("Click where the order is on the map")
        self.place_button.clicked.connect(self.place_on_map)
        self.place_button.hide()
        #: The coordinates as the map's click wrote them (None: not placed by hand).
        self.placed: tuple[str, str] | None = None
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
        by_hand = self.placed is not None and self.placed == (
            fields.get("lat", ""),
            fields.get("lon", ""),
        )
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
                placed_by_hand=by_hand,
            )

        run_in_background(work, self._saved, self._refused)

    def place_on_map(self) -> None:
        """Step aside and let the dispatcher click where the order is on the map."""
        picker = _picker(self.window_)
        if picker is None:
            self.status.setText("There is no map in this window to place the order on.")
            return
        fields = self.values()
        who = [fields.get("customer_name", ""), fields.get("address", "")]
        title = ", ".join(p for p in who if p) or f"order {fields.get('order_id', '')}".strip()
        self.hide()  # the form is window-modal: the map could not be clicked behind it
        picker.start(PickRequest(title, self._placed, self._not_placed))

    def _placed(self, lat: float, lon: float) -> None:
        if not isValid(self):
            return
        self.placed = (f"{lat:.6f}", f"{lon:.6f}")
        self.fields["lat"].setText(self.placed[0])
        self.fields["lon"].setText(self.placed[1])
        self.place_button.hide()
        self.show()
        self.submit()

    def _not_placed(self) -> None:
        if not isValid(self):
            return
        self.show()
        self.status.setText("Not placed on the map: the order is not saved yet.")

    def _saved(self, result: tuple[int, OrderRecord]) -> None:
        self.created = result
        stop_id, order = result
        by_hand = " (placed by hand)" if self.placed is not None else ""
        self.window_.statusBar().showMessage(
            f"Order {order.order_ref} created at {order.lat:.5f}, {order.lon:.5f}{by_hand}", 15000
        )
        picker = _picker(self.window_)
        if picker is not None:
            picker.clear_pin()
        self.accept()
        window = self.window_
        if self.urgent.isChecked() and not order.vehicle_id:  # once the boards have it
            window.reload_routes(then=lambda: _suggest_places(window, str(stop_id)))
        elif order.vehicle_id:
            window.reload_routes(then=lambda: _check_placed(window, str(stop_id)))
        else:
            window.reload_routes()

    def _refused(self, exc: Exception) -> None:
        if not isValid(self):
            return
        self.buttons.setEnabled(True)
        place = isinstance(exc, FieldRefused) and exc.field in PLACE_FIELDS
        self.place_button.setVisible(place)
        hint = " Place on map puts it where you click." if place else ""
        self.status.setText(f"Not saved: {str(exc).rstrip('.')}.{hint}")
        picker = _picker(self.window_)
        if picker is not None:
            picker.clear_pin()


def _picker(window: Shell) -> PositionPicker | None:
    """The map's position picker, or None when this window has no map room."""
    from dispatcher_ui.map.controller import MapController

    controller = window.rooms.find(MapController)
    return None if controller is None else controller.picker


def _suggest_places(window: Shell, stop_id: str) -> None:
    """Open the route boards' "best place" suggestions for the new stop."""
    from dispatcher_ui.routes.host import BoardsHost
    from dispatcher_ui.routes.insert_dialog import show_suggestions

    panel = window.rooms.find(BoardsHost)
    day = None if panel is None else panel.controller.day
    if panel is not None and day is not None and stop_id in day.stops:
        show_suggestions(panel, stop_id)


def _check_placed(window: Shell, stop_id: str) -> None:
    """An order typed onto a vehicle's route went there without the question a move asks:
    say what it breaks there (skills, pair, weight, volume, duration, break) on the change
    line, with the stop selected so Ctrl+Shift+M or Ctrl+U moves it at once."""
    from dispatcher_ui.routes.host import BoardsHost

    panel = window.rooms.find(BoardsHost)
    day = None if panel is None else panel.controller.day
    if panel is None or day is None or stop_id not in day.stops:
        return
    problems = panel.controller.placement_problems(stop_id)
    if problems:
        ref, vid = day.stops[stop_id].order_ref, day.plan.vehicle_of(stop_id)
        panel.controller.focus_stops.emit([stop_id])
        panel.controller.message.emit(
            f"Order {ref} is on {vid}'s route but breaks {'; '.join(problems)}: move it "
            "(Ctrl+Shift+M) or find its best place (Ctrl+U)"
        )


def open_new_order(window: Shell, timezone: str) -> NewOrderDialog:
    """Show the form (non-modal: the console keeps running behind it)."""
    dialog = NewOrderDialog(window, timezone)
    window.last_new_order_dialog = dialog
    dialog.open()
    return dialog
