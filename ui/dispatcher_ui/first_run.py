"""The first-run assistant: a new owner's fleet set up in four pages, without SQL.

Shown by ``dispatcher`` on an empty database (no depot, no vehicle) instead of an empty
window, and from Help > First-run assistant… at any time. "Skip for now" closes it and it is
not shown again by itself (QSettings ``first_run/skipped``). The rules live in
``dispatcher.first_run``; the pages only gather text, and Finish runs the work (geocoding the
depot, writing the config, creating the fleet) off the GUI thread, showing each refused
answer under the page with its field.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from dispatcher.config import default_config_path
from dispatcher.first_run import FirstRunAnswers, FirstRunResult, apply_first_run
from dispatcher_ui.workers import run_in_background

if TYPE_CHECKING:
    from dispatcher_ui.shell import Shell

SKIPPED_KEY = "first_run/skipped"


def local_zone() -> str:
    """This machine's zone, the likely answer (the owner's laptop is where the fleet is)."""
    from dispatcher.fleet_settings import machine_zone_name

    return machine_zone_name()


class FirstRunWizard(QWizard):
    """Company and zone; depot; vans; phones and broker. Finish applies it all."""

    def __init__(self, window: Shell, qsettings: QSettings | None = None) -> None:
        super().__init__(window)
        self.window_ = window
        self.qsettings = qsettings or QSettings()
        self.result_: FirstRunResult | None = None
        self.setWindowTitle("Set up your fleet")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Skip for now")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Set up my fleet")
        self.setMinimumSize(640, 440)
        self.edits: dict[str, QLineEdit] = {}
        #: Why Finish did not set the fleet up (shown on the last page, where Finish is).
        self.status = QLabel("")
        self.status.setObjectName("firstRunStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setStyleSheet("color: #d9534f")
        self.addPage(self._company_page())
        self.addPage(self._depot_page())
        self.addPage(self._vans_page())
        self.addPage(self._broker_page())
        self.rejected.connect(self._skipped)

    # -- pages -----------------------------------------------------------------------------
    def _page(self, title: str, subtitle: str, *rows: tuple[str, QWidget]) -> QWizardPage:
        page = QWizardPage()
        page.setTitle(title)
        page.setSubTitle(subtitle)
        form = QFormLayout(page)
        for label, widget in rows:
            form.addRow(label, widget)
        return page

    def _edit(self, name: str, text: str = "", hint: str = "") -> QLineEdit:
        edit = QLineEdit(text, placeholderText=hint)
        edit.setObjectName(f"firstRun_{name}")
        self.edits[name] = edit
        return edit

    def _company_page(self) -> QWizardPage:
        self.zone = QComboBox()
        self.zone.setEditable(True)
        zones = sorted(available_timezones())
        self.zone.addItems(zones)
        self.zone.setCurrentText(local_zone())
        completer = QCompleter(zones, self.zone)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.zone.setCompleter(completer)
        self.units = QComboBox()
        self.units.addItems(["km", "mi"])
        return self._page(
            "Your company",
            "Customers see the name in messages; every time is shown and planned in this zone.",
            ("Company", self._edit("company", hint="e.g. Northern Bakes")),
            ("Time zone", self.zone),
            ("Distances in", self.units),
        )

    def _depot_page(self) -> QWizardPage:
        return self._page(
            "Your depot",
            "Where the vans start and end the day. The address is placed on the map for you.",
            ("Name", self._edit("depot_name", "Depot")),
            ("Address", self._edit("depot_address", hint="street, town, postcode")),
            ("Latitude", self._edit("depot_lat", hint="only if the address is not found")),
            ("Longitude", self._edit("depot_lon")),
        )

    def _vans_page(self) -> QWizardPage:
        self.vans = QSpinBox(minimum=1, maximum=500, value=3)
        self.vans.setObjectName("firstRun_vans")
        return self._page(
            "Your vans",
            "Names, plates, drivers and more can be changed later in Fleet > Fleet setup "
            "(or imported from CSV there).",
            ("How many", self.vans),
            ("Named", self._edit("van_prefix", "Van")),
            ("Parcels each", self._edit("capacity", "100")),
            ("Shift from", self._edit("shift_start", "08:00")),
            ("Shift to", self._edit("shift_end", "17:00")),
        )

    def _broker_page(self) -> QWizardPage:
        page = QWizardPage()
        page.setTitle("Drivers' phones")
        page.setSubTitle("How vans and phones report their positions.")
        layout = QVBoxLayout(page)
        self.broker_group = QButtonGroup(page)
        self.broker_buttons: dict[str, QRadioButton] = {}
        for key, text in (
            ("lan", "Phones on our network reach this computer (TLS, one password per phone)"),
            ("local", "Only this computer for now (no phones yet)"),
            ("external", "We have our own MQTT broker:"),
        ):
            button = QRadioButton(text)
            button.setObjectName(f"firstRun_broker_{key}")
            self.broker_group.addButton(button)
            self.broker_buttons[key] = button
            layout.addWidget(button)
        self.broker_buttons["lan"].setChecked(True)
        layout.addWidget(self._edit("broker_url", hint="mqtts://broker.example.lan:8883"))
        note = QLabel(
            "Each phone then gets its own login as a QR code: Fleet > Set up a driver's phone."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        layout.addWidget(self.status)
        return page

    # -- answers ---------------------------------------------------------------------------
    def answers(self) -> FirstRunAnswers:
        text = {name: edit.text() for name, edit in self.edits.items()}
        broker = next(k for k, b in self.broker_buttons.items() if b.isChecked())
        return FirstRunAnswers(
            company=text["company"],
            timezone=self.zone.currentText(),
            units=self.units.currentText(),
            depot_name=text["depot_name"],
            depot_address=text["depot_address"],
            depot_lat=text["depot_lat"],
            depot_lon=text["depot_lon"],
            vans=self.vans.value(),
            van_prefix=text["van_prefix"],
            capacity=text["capacity"],
            shift_start=text["shift_start"],
            shift_end=text["shift_end"],
            broker=broker,
            broker_url=text["broker_url"],
        )

    def accept(self) -> None:
        """Finish: apply in the background; the assistant stays open until it is done."""
        core = self.window_.core
        answers = self.answers()
        config = core.settings.source or default_config_path()
        actor = getattr(getattr(core, "user", None), "id", "") or getpass.getuser()
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText("Setting up: placing the depot, writing the settings…")

        def work() -> FirstRunResult:
            geocoder = core.geocoder()
            return apply_first_run(core.db, config, answers, actor=actor, geocoder=geocoder)

        run_in_background(work, self._done, self._refused)

    def _done(self, result: FirstRunResult) -> None:
        self.result_ = result
        self.qsettings.setValue(SKIPPED_KEY, False)
        self.window_.statusBar().showMessage(
            f"Fleet set up: depot {result.depot_id} and {len(result.vehicle_ids)} vans. "
            f"Settings saved in {result.config_path}; restart to apply the zone and broker.",
            30000,
        )
        self.window_.reload_routes()
        super().accept()

    def _refused(self, exc: Exception) -> None:
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self.status.setStyleSheet("color: #d9534f")
        fields = getattr(exc, "fields", None)
        if isinstance(fields, dict) and fields:
            lines = [f"{name.replace('_', ' ')}: {why}" for name, why in fields.items()]
            self.status.setText("Not set up yet —\n" + "\n".join(lines))
        else:
            self.status.setText(f"Not set up yet — {exc}")

    def _skipped(self) -> None:
        if self.result_ is None:
            self.qsettings.setValue(SKIPPED_KEY, True)


def open_first_run(window: Shell, qsettings: QSettings | None = None) -> FirstRunWizard:
    """Show the assistant (Help > First-run assistant…, or at start on an empty fleet)."""
    wizard = FirstRunWizard(window, qsettings)
    window.first_run_wizard = wizard
    wizard.open()
    return wizard


def offer_first_run(window: Shell, qsettings: QSettings) -> None:
    """At start: open the assistant if the fleet is empty and it was not skipped before."""
    if qsettings.value(SKIPPED_KEY, False, type=bool):
        return
    from dispatcher.first_run import needs_first_run

    db = window.core.db

    def opened(needed: bool) -> None:
        if needed:
            open_first_run(window, qsettings)

    run_in_background(lambda: needs_first_run(db), opened, lambda exc: None)
