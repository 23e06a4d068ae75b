"""The first-run assistant through the real window: an empty database opens it, the owner
types their answers page by page and clicks "Set up my fleet", or skips it for now."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_geocoder import Provider
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMenu, QWizard
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.first_run import needs_first_run
from dispatcher_ui.first_run import SKIPPED_KEY, FirstRunWizard, offer_first_run
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(sqlite_url: str, provider: Provider, tmp_path: Path) -> Iterator[Core]:
    settings = Settings(database_url=sqlite_url)
    settings.sections["geocoding"] = {"url": provider.url, "min_delay_s": 0}
    settings.source = tmp_path / "config.toml"
    c = Core(settings)
    yield c
    c.close()


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, core: Core, qsettings: QSettings) -> MainWindow:
    w = MainWindow(core, qsettings)
    qtbot.addWidget(w)
    wait_for_routes(qtbot, w)
    return w


def wizard_of(qtbot, window: MainWindow) -> FirstRunWizard:
    qtbot.waitUntil(lambda: getattr(window, "first_run_wizard", None) is not None, timeout=10000)
    wizard = window.first_run_wizard
    assert isinstance(wizard, FirstRunWizard)
    qtbot.waitUntil(wizard.isVisible)
    return wizard


def type_into(qtbot, wizard: FirstRunWizard, **values: str) -> None:
    for name, text in values.items():
        edit = wizard.edits[name]
        edit.clear()
        qtbot.keyClicks(edit, text)


def click(qtbot, wizard: FirstRunWizard, which: QWizard.WizardButton) -> None:
    qtbot.mouseClick(wizard.button(which), Qt.MouseButton.LeftButton)


def test_an_empty_fleet_is_set_up_through_the_assistant(
    qtbot,
    window: MainWindow,
    core: Core,
    qsettings: QSettings,
) -> None:
    offer_first_run(window, qsettings)  # what `dispatcher` does at start
    wizard = wizard_of(qtbot, window)
    type_into(qtbot, wizard, company="Northern Bakes")
    wizard.zone.setCurrentIndex(wizard.zone.findText("Europe/London"))  # picked from the list
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    type_into(qtbot, wizard, depot_name="Ancoats", depot_address="1 Piccadilly, Manchester M1 1AA")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    wizard.vans.setValue(3)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    qtbot.mouseClick(wizard.broker_buttons["lan"], Qt.MouseButton.LeftButton)
    click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    qtbot.waitUntil(lambda: wizard.result_ is not None, timeout=20000)
    assert not wizard.isVisible()
    assert not needs_first_run(core.db)
    data = tomllib.loads(Path(str(core.settings.source)).read_text())
    assert data["fleet"]["timezone"] == "Europe/London"
    assert data["broker"]["listen"] == "0.0.0.0:8883"
    assert "3 vans" in window.statusBar().currentMessage()


def test_a_wrong_answer_keeps_the_assistant_open_and_says_why(
    qtbot,
    window: MainWindow,
    core: Core,
) -> None:
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert isinstance(help_menu, QMenu)
    next(a for a in help_menu.actions() if a.text().startswith("&First-run")).trigger()
    wizard = wizard_of(qtbot, window)
    for _ in range(3):
        click(qtbot, wizard, QWizard.WizardButton.NextButton)
    click(qtbot, wizard, QWizard.WizardButton.FinishButton)  # no company, no depot address
    qtbot.waitUntil(lambda: "Not set up yet" in wizard.status.text(), timeout=10000)
    assert "company" in wizard.status.text() and "depot address" in wizard.status.text()
    assert wizard.isVisible() and needs_first_run(core.db)


def test_skip_for_now_is_remembered(
    qtbot,
    window: MainWindow,
    qsettings: QSettings,
) -> None:
    offer_first_run(window, qsettings)
    wizard = wizard_of(qtbot, window)
    click(qtbot, wizard, QWizard.WizardButton.CancelButton)
    qtbot.waitUntil(lambda: not wizard.isVisible())
    assert qsettings.value(SKIPPED_KEY, False, type=bool)
    window.first_run_wizard = None
    offer_first_run(window, qsettings)
    qtbot.wait(300)
    assert window.first_run_wizard is None
