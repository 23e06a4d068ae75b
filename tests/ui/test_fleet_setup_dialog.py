"""Fleet > Fleet setup…, driven through the real dialog: type, click Save, see the row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit
from routes_wait import wait_for_routes

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.users import Role, User
from dispatcher.users.desk import UserDesk
from dispatcher_ui.fleet_setup.dialog import FleetSetupDialog
from dispatcher_ui.fleet_setup.record_tab import RecordTab
from dispatcher_ui.main_window import (
    MainWindow,  # before the QApplication: the map registers a scheme
)

UTC = ZoneInfo("UTC")


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    yield c
    c.close()


@pytest.fixture
def dialog(qtbot: Any, core: Core) -> FleetSetupDialog:
    user = core.user  # the first login on an empty database: admin
    assert user.role is Role.ADMIN
    d = FleetSetupDialog(core, user, UTC)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    qtbot.waitUntil(lambda: not any(t.busy for t in d.record_tabs.values()), timeout=10000)
    return d


def open_tab(dialog: FleetSetupDialog, key: str) -> RecordTab:
    """Bring a tab to the front, as clicking its title does."""
    tab = dialog.record_tabs[key]
    dialog.tabs.setCurrentWidget(tab)
    return tab


def type_into(qtbot: Any, tab: RecordTab, **values: str) -> None:
    for key, text in values.items():
        widget = tab.inputs[key]
        assert isinstance(widget, QLineEdit)
        widget.clear()
        qtbot.keyClicks(widget, text)


def save(qtbot: Any, tab: RecordTab) -> None:
    qtbot.waitUntil(lambda: not tab.busy, timeout=10000)  # the tab's first load is done
    with qtbot.waitSignal(tab.idle, timeout=10000):
        qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)


def cell(tab: RecordTab, row: int, column: int) -> str:
    item = tab.table.item(row, column)
    assert item is not None, f"no cell at ({row}, {column})"
    return item.text()


def test_type_a_depot_click_save_and_see_the_row(qtbot: Any, dialog: FleetSetupDialog) -> None:
    tab = open_tab(dialog, "depot")
    type_into(qtbot, tab, id="HUB", name="Manchester hub", lat="53.48", lon="-2.24")
    type_into(qtbot, tab, opens_at="06:00", closes_at="20:00")
    save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.row_of("id", "HUB") >= 0, timeout=10000)
    row = tab.row_of("id", "HUB")
    assert cell(tab, row, 1) == "Manchester hub"
    assert cell(tab, row, 5) == "06:00"
    assert dialog.undo_button.isEnabled()


def test_a_bad_value_shows_its_message_and_saves_nothing(
    qtbot: Any, dialog: FleetSetupDialog, core: Core
) -> None:
    tab = open_tab(dialog, "vehicle")
    type_into(qtbot, tab, id="V1", name="Van 1", capacity="lots", shift_start="18:00")
    save(qtbot, tab)
    assert tab.errors["capacity"].isVisible()
    assert tab.errors["capacity"].text() == "'lots' is not a number"
    assert tab.errors["shift_end"].text() == "must be after the shift start"
    assert not tab.errors["name"].isVisible()
    assert "Nothing was saved" in tab.message.text()
    assert dialog.desk.fleet()["vehicles"] == []


def test_import_csv_lists_the_rejected_lines_and_keeps_the_good_ones(
    qtbot: Any, dialog: FleetSetupDialog, tmp_path: Path
) -> None:
    path = tmp_path / "drivers.csv"
    path.write_text("name,phone\nAnn,+44 1\nBob,call me\n", encoding="utf-8")
    tab = open_tab(dialog, "driver")
    with qtbot.waitSignal(tab.idle, timeout=10000):
        dialog.import_file("driver", path)
    assert "line 3: phone: 'call me' is not a phone number" in tab.message.text()
    assert tab.row_of("name", "Ann") >= 0 and tab.row_of("name", "Bob") == -1


def test_retire_and_undo_the_last_change(qtbot: Any, dialog: FleetSetupDialog) -> None:
    tab = open_tab(dialog, "driver")
    type_into(qtbot, tab, id="ann", name="Ann")
    save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.row_of("id", "ann") >= 0, timeout=10000)
    tab.table.selectRow(tab.row_of("id", "ann"))
    with qtbot.waitSignal(tab.idle, timeout=10000):
        qtbot.mouseClick(tab.retire_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(tab, tab.row_of("id", "ann"), 4) == "retired")
    with qtbot.waitSignal(tab.idle, timeout=10000):
        qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(tab, tab.row_of("id", "ann"), 4) == "yes")
    assert dialog.status.text() == "Undone: restored driver ann."


def test_the_users_tab_is_for_admins_and_adds_a_supervisor(
    qtbot: Any, dialog: FleetSetupDialog, core: Core
) -> None:
    titles = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert titles == ["Depots", "Vehicles", "Drivers", "Assignments", "Vehicle types", "Users"]
    tab = open_tab(dialog, "user")
    type_into(qtbot, tab, username="sue", display_name="Sue")
    role = tab.inputs["role"]
    assert isinstance(role, QComboBox)
    role.setCurrentText("supervisor")
    save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.row_of("username", "sue") >= 0, timeout=10000)
    assert UserDesk(core.db).login("sue") == User("sue", Role.SUPERVISOR, "Sue")
    dispatcher = FleetSetupDialog(core, User("dora", Role.DISPATCHER), UTC)
    qtbot.addWidget(dispatcher)
    assert "Users" not in [dispatcher.tabs.tabText(i) for i in range(dispatcher.tabs.count())]
    assert "may look but not change" in dispatcher.status.text()


def test_a_dispatcher_clicking_save_is_refused_by_the_core(qtbot: Any, core: Core) -> None:
    core.user  # noqa: B018 - the admin logs in first
    UserDesk(core.db).login("dora")
    d = FleetSetupDialog(core, User("dora", Role.DISPATCHER), UTC)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    tab = open_tab(d, "depot")
    type_into(qtbot, tab, id="HUB", name="Hub", lat="53", lon="-2")
    save(qtbot, tab)
    assert "dora has the dispatcher role and cannot change the fleet setup" in tab.message.text()
    assert d.desk.fleet()["depots"] == []


def test_the_fleet_menu_opens_the_dialog(qtbot: Any, core: Core, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    action = window.shortcuts.find("window", "Fleet setup").action
    assert action is not None and action.text() == "Fleet &setup…"
    action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "fleet_setup_dialog", None) is not None, timeout=10000)
    dialog = window.fleet_setup_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=10000)
    qtbot.waitUntil(lambda: not any(t.busy for t in dialog.record_tabs.values()), timeout=10000)
    assert dialog.user.role is Role.ADMIN


def test_a_vehicle_s_constraints_are_typed_saved_and_shown(
    qtbot: Any, dialog: FleetSetupDialog, tmp_path: Path
) -> None:
    """Skills, a fixed cost, weight/volume limits, a maximum route and a break window are
    fields of the vehicle form; the row shows them and the planner reads them
    (tests/fleet/test_fleet_constraints.py)."""
    depots = open_tab(dialog, "depot")
    type_into(qtbot, depots, id="HUB", name="Hub", lat="53.48", lon="-2.24")
    save(qtbot, depots)
    tab = open_tab(dialog, "vehicle")
    type_into(qtbot, tab, id="V1", name="Fridge van", depot_id="HUB", skills="cold, lift")
    type_into(qtbot, tab, break_after_min="240", break_min="30", break_latest_min="200")
    type_into(qtbot, tab, fixed_cost="45", max_weight_kg="900", max_volume_l="6000")
    type_into(qtbot, tab, max_route_min="420")
    save(qtbot, tab)
    assert tab.errors["break_latest_min"].text() == "must not be before the break is due"
    assert dialog.desk.fleet()["vehicles"] == []
    type_into(qtbot, tab, break_latest_min="300")
    save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.row_of("id", "V1") >= 0, timeout=10000)
    row = tab.row_of("id", "V1")
    labels = [f.label for f in tab.fields]
    shown = {label: cell(tab, row, i) for i, label in enumerate(labels)}
    assert shown["Max weight (kg)"] == "900" and shown["Max volume (l)"] == "6000"
    assert shown["Max route (min)"] == "420" and shown["Break by (min)"] == "300"
    assert shown["Fixed cost per day"] in ("45", "45.0")
    stored = dialog.desk.fleet()["vehicles"][0]
    assert (stored["skills"], stored["max_weight_kg"]) == (["cold", "lift"], 900)
    dialog.grab().save(str(tmp_path / "fleet_setup_constraints.png"))
