"""The Fleet setup dialog: tabs Depots, Vehicles, Drivers, Assignments and (admins) Users.

Built over the core's desks (:class:`~dispatcher.fleet.setup.FleetSetupDesk`,
:class:`~dispatcher.users.desk.UserDesk`); every click runs off the GUI thread and the core
checks the user's role, so a supervisor sees the same refusals as on the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dispatcher.fleet.setup import FleetSetupDesk
from dispatcher.importing.fleet_csv import FleetImportReport, import_fleet
from dispatcher.model.users import Permission, Role, User, allowed
from dispatcher.users.desk import UserDesk
from dispatcher_ui.fleet_setup.record_tab import Field, RecordTab, TabActions, alive
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher.core import Core

DEPOT_FIELDS = (
    Field("id", "Id"),
    Field("name", "Name"),
    Field("address", "Address"),
    Field("lat", "Latitude"),
    Field("lon", "Longitude"),
    Field("opens_at", "Opens", hint="HH:MM"),
    Field("closes_at", "Closes", hint="HH:MM"),
)
VEHICLE_FIELDS = (
    Field("id", "Id"),
    Field("name", "Name"),
    Field("plate", "Plate"),
    Field("vehicle_type", "Type", hint="van"),
    Field("capacity", "Capacity", hint="100"),
    Field("skills", "Skills", hint="cold, lift"),
    Field("cost_per_km", "Cost per km"),
    Field("cost_per_hour", "Cost per hour"),
    Field("depot_id", "Start depot"),
    Field("end_depot_id", "End depot", hint="same as start"),
    Field("driver_id", "Usual driver"),
    Field("shift_start", "Shift start", hint="08:00"),
    Field("shift_end", "Shift end", hint="17:00"),
    Field("break_after_min", "Break after (min)"),
    Field("break_min", "Break (min)"),
    Field("break_latest_min", "Break by (min)", hint="due + 60"),
    Field("fixed_cost", "Fixed cost per day"),
    Field("max_weight_kg", "Max weight (kg)", hint="no limit"),
    Field("max_volume_l", "Max volume (l)", hint="no limit"),
    Field("max_route_min", "Max route (min)", hint="the shift"),
)
DRIVER_FIELDS = (
    Field("id", "Id"),
    Field("name", "Name"),
    Field("phone", "Phone"),
    Field("device_key", "Device"),
)
VEHICLE_TYPE_FIELDS = (
    Field("name", "Type", hint="van"),
    Field("energy", "Energy", choices=("diesel", "petrol", "electric")),
    Field("energy_per_km", "Energy per km", hint="litres or kWh per km"),
    Field("co2e_kg_per_unit", "kg CO2e per litre/kWh"),
    Field("factor_source", "Factor source", hint="e.g. DESNZ 2025"),
    Field("fixed_cost_per_route", "Fixed cost per route day"),
)
ASSIGNMENT_FIELDS = (
    Field("date", "Date", hint="YYYY-MM-DD"),
    Field("vehicle_id", "Vehicle"),
    Field("driver_id", "Driver"),
)
USER_FIELDS = (
    Field("username", "Username"),
    Field("display_name", "Name"),
    Field("role", "Role", choices=tuple(r.value for r in Role)),
    Field("os_user", "OS login", hint="same as username"),
)


class FleetSetupDialog(QDialog):
    """Fleet setup for the user at the desk (``user``, resolved off the GUI thread)."""

    def __init__(
        self, core: Core, user: User, timezone: ZoneInfo, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fleet setup")
        self.setObjectName("FleetSetupDialog")
        self.resize(1000, 720)
        self.user = user
        self.desk = FleetSetupDesk(core.db, timezone, core.clock)
        self.users = UserDesk(core.db)
        self.db = core.db
        self.tabs = QTabWidget()
        self.record_tabs: dict[str, RecordTab] = {}
        for entity, title, fields in (
            ("depot", "Depots", DEPOT_FIELDS),
            ("vehicle", "Vehicles", VEHICLE_FIELDS),
            ("driver", "Drivers", DRIVER_FIELDS),
        ):
            tab = RecordTab(fields, self._entity_actions(entity))
            importer = QPushButton("Import CSV…")
            importer.clicked.connect(lambda _=False, e=entity: self.choose_import(e))
            tab.extra_buttons.addWidget(importer)
            self._add(entity, title, tab)
        self._add("assignment", "Assignments", RecordTab(ASSIGNMENT_FIELDS, self._assignments()))
        types = TabActions(
            load=self.desk.vehicle_types,
            save=lambda values, _new: self.desk.save_vehicle_type(user.id, values),
        )
        self._add("vehicle_type", "Vehicle types", RecordTab(VEHICLE_TYPE_FIELDS, types))
        if allowed(user, Permission.MANAGE_USERS):
            self._add("user", "Users", RecordTab(USER_FIELDS, self._user_actions()))
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        if not allowed(user, Permission.FLEET_SETUP):
            self.status.setText(
                f"{user.id} ({user.role.value}) may look but not change the fleet setup."
            )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.undo_button = buttons.addButton(
            "Undo last change", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        for tab in self.record_tabs.values():
            tab.reload()

    def _add(self, key: str, title: str, tab: RecordTab) -> None:
        tab.changed.connect(self._changed)
        self.record_tabs[key] = tab
        self.tabs.addTab(tab, title)

    def _changed(self, what: str) -> None:
        self.undo_button.setEnabled(self.desk.can_undo)
        for key in ("vehicle", "assignment"):  # names of depots/drivers show there
            self.record_tabs[key].reload()

    # -- what each tab does (all called off the GUI thread) ----------------------------

    def _entity_actions(self, entity: str) -> TabActions:
        actor = self.user.id
        return TabActions(
            load=lambda: self.desk.fleet()[f"{entity}s"],
            save=lambda values, new: self.desk.save(actor, entity, values, new=new),
            retire=lambda record: self.desk.retire(actor, entity, record["id"]),
        )

    def _assignments(self) -> TabActions:
        from datetime import date

        actor = self.user.id
        return TabActions(
            load=lambda: self.desk.fleet()["assignments"],
            save=lambda values, _new: self.desk.assign(actor, values),
            retire=lambda r: self.desk.unassign(
                actor, r["vehicle_id"], date.fromisoformat(r["date"])
            ),
            retire_label="Clear",
        )

    def _user_actions(self) -> TabActions:
        actor = self.user.id

        def save(values: dict[str, str], new: bool) -> Any:
            if new:
                return self.users.add(
                    actor,
                    values["username"],
                    values["role"],
                    display_name=values["display_name"],
                    os_user=values["os_user"] or None,
                )
            return self.users.set_role(actor, values["username"], values["role"])

        return TabActions(
            load=lambda: [u.as_dict() for u in self.users.users()],
            save=save,
            retire=lambda r: self.users.set_active(actor, r["username"], False),
            retire_label="Deactivate",
        )

    # -- import and undo ---------------------------------------------------------------

    def choose_import(self, entity: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Import {entity}s", "", "CSV files (*.csv)")
        if path:
            self.import_file(entity, Path(path))

    def import_file(self, entity: str, path: Path) -> None:
        """Import ``path`` into the ``entity`` tab and list every rejected line there."""
        tab, actor, db = self.record_tabs[entity], self.user.id, self.db
        tab.busy = True
        self.status.setText(f"Importing {path.name}…")

        def done(report: FleetImportReport) -> None:
            if not alive(tab.table):
                return
            lines = [str(e) for e in report.errors]
            text = f"{path.name}: {report.summary()}" + "".join(f"\n{line}" for line in lines)
            tab.message.setText(text)
            self.status.setText(report.summary())
            tab.busy = False
            tab.reload()

        def failed(exc: Exception) -> None:
            if not alive(tab.table):
                return
            tab.message.setText(f"{path.name}: {exc}")
            tab.busy = False
            tab.idle.emit()

        run_in_background(lambda: import_fleet(db, f"{entity}s", path, actor), done, failed)

    def undo(self) -> None:
        actor = self.user.id

        def done(text: str) -> None:
            if not alive(self.status):
                return
            self.status.setText(f"Undone: {text}.")
            self.undo_button.setEnabled(self.desk.can_undo)
            for tab in self.record_tabs.values():
                tab.reload()

        run_in_background(
            lambda: self.desk.undo(actor), done, lambda exc: self.status.setText(str(exc))
        )
