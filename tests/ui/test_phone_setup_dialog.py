"""Fleet > Set up a driver's phone: through the real menu action, the credential is made off
the GUI thread, the QR code is shown and the OwnTracks file saved; a second one is refused."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.devices.phone_setup_dialog import ACTION_TEXT, MENU, PhoneSetupDialog
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(db_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=db_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(
            session, demo_scenario(date(2026, 11, 20), n_orders=6, n_vehicles=2)
        )
    yield c
    c.close()


def open_from_menu(window: MainWindow) -> PhoneSetupDialog:
    menu = next(
        a.menu()
        for a in window.menuBar().actions()
        if a.text() == MENU and isinstance(a.menu(), QMenu)
    )
    assert isinstance(menu, QMenu)
    action = next(a for a in menu.actions() if a.text() == ACTION_TEXT)
    action.trigger()
    dialog = window.findChild(PhoneSetupDialog)
    assert isinstance(dialog, PhoneSetupDialog) and dialog.isVisible()
    return dialog


def test_phone_setup_shows_the_qr_and_saves_the_owntracks_file(
    qtbot, core: Core, tmp_path: Path
) -> None:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    dialog = open_from_menu(window)
    qtbot.keyClicks(dialog.key_edit, "owntracks:alice/phone")
    qtbot.keyClicks(dialog.host_edit, "192.168.1.20")
    qtbot.mouseClick(dialog.make_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.setup is not None, timeout=15000)
    assert not dialog.qr_label.pixmap().isNull()
    assert dialog.setup is not None
    password = dialog.setup.credential.password
    assert "alice.phone" in dialog.message.text() and password in dialog.message.text()

    target = tmp_path / "alice.otrc"

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QFileDialog)
        box.selectFile(str(target))
        box.accept()

    QTimer.singleShot(0, answer)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    config = json.loads(target.read_text())
    assert config["password"] == password and config["host"] == "192.168.1.20"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    qtbot.mouseClick(dialog.make_button, Qt.MouseButton.LeftButton)  # again: refused
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Refused:"), timeout=15000)
    assert "already has a live credential" in dialog.message.text()
    dialog.close()
