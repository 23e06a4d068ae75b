"""The day picker: today and tomorrow live side by side. Switching days through the real
toolbar shows the other day's stops on the route list and the boards, an order imported for
tomorrow no longer hides today, and the day is kept across restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, demo_day, local
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtWidgets import QApplication, QDateTimeEdit
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow

TOMORROW = DAY + timedelta(days=1)


OPENED: list[MainWindow] = []


@pytest.fixture
def core(db_url: str) -> Iterator[Core]:
    """Today (20 planned stops on 2 vans) and tomorrow (5 orders, not planned yet).

    The windows close, and their background reads finish, before the database is closed:
    a read started after that would open a connection nobody closes (PostgreSQL warns)."""
    c = Core(Settings(database_url=db_url), clock=FakeClock(local(11, 0)))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY, n_orders=20, n_vehicles=2))
        tomorrow = demo_day(TOMORROW, seed=9, n_orders=5, n_vehicles=2)
        tomorrow.routes = {}
        fleet_repo.save_scenario(session, tomorrow)
    yield c
    while OPENED:
        OPENED.pop().close()
    QThreadPool.globalInstance().waitForDone(30000)
    c.close()


def ini(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


def open_window(qtbot, core: Core, tmp_path: Path) -> MainWindow:
    window = MainWindow(core, ini(tmp_path))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    OPENED.append(window)
    return window


def board_day(window: MainWindow) -> object:
    day = window.routes_panel.controller.day
    return None if day is None else day.day


def click(qtbot, window: MainWindow, action) -> None:
    qtbot.mouseClick(window.day_bar.widgetForAction(action), Qt.MouseButton.LeftButton)
    wait_for_routes(qtbot, window)  # the day's routes are read off the GUI thread


def test_the_console_opens_on_today_not_on_the_highest_date(
    qtbot, core: Core, tmp_path: Path
) -> None:
    window = open_window(qtbot, core, tmp_path)
    assert window.service_day == DAY and window.day_bar.day == DAY
    assert window.routes_model.stop_count() == 20 and board_day(window) == DAY


def test_next_and_today_switch_every_room(qtbot, core: Core, tmp_path: Path) -> None:
    window = open_window(qtbot, core, tmp_path)
    with qtbot.waitSignal(window.day_bar.changed) as changed:
        click(qtbot, window, window.day_bar.next_action)
    assert changed.args == [TOMORROW]
    assert window.routes_model.stop_count() == 5
    assert board_day(window) == TOMORROW
    day = window.routes_panel.controller.day
    assert day is not None and len(day.plan.unassigned) == 5
    click(qtbot, window, window.day_bar.today_action)
    assert window.service_day == DAY and window.routes_model.stop_count() == 20
    click(qtbot, window, window.day_bar.previous_action)
    assert window.service_day == DAY - timedelta(days=1)
    assert window.routes_model.stop_count() == 0
    assert board_day(window) == DAY - timedelta(days=1)  # an empty day, not today's boards


def test_typing_a_date_in_the_picker_shows_that_day(qtbot, core: Core, tmp_path: Path) -> None:
    window = open_window(qtbot, core, tmp_path)
    edit = window.day_bar.date_edit
    edit.setFocus()
    edit.setCurrentSection(QDateTimeEdit.Section.DaySection)
    qtbot.keyClick(edit, Qt.Key.Key_Up)  # the day section, one up
    wait_for_routes(qtbot, window)
    assert window.service_day == TOMORROW
    assert window.routes_model.stop_count() == 5


def test_importing_an_order_for_tomorrow_leaves_today_visible(
    qtbot, core: Core, tmp_path: Path
) -> None:
    window = open_window(qtbot, core, tmp_path)
    csv = tmp_path / "tomorrow.csv"
    csv.write_text(f"order_id,lat,lon,customer_name,date\nLATE-1,52.5,13.4,Zoë,{TOMORROW}\n")
    window.run_import(csv)
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    report = window.last_import_report
    assert report is not None and report.inserted == 1
    assert window.service_day == DAY and window.routes_model.stop_count() == 20
    assert board_day(window) == DAY
    click(qtbot, window, window.day_bar.next_action)
    assert window.routes_model.stop_count() == 6


def test_the_day_is_kept_across_restarts(qtbot, core: Core, tmp_path: Path) -> None:
    window = open_window(qtbot, core, tmp_path)
    click(qtbot, window, window.day_bar.next_action)
    window.close()
    again = open_window(qtbot, core, tmp_path)
    assert again.service_day == TOMORROW and again.day_bar.day == TOMORROW
    assert again.routes_model.stop_count() == 5


def test_the_keyboard_shortcuts_step_through_days(qtbot, core: Core, tmp_path: Path) -> None:
    window = open_window(qtbot, core, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert ("Alt+Right", "Next day") in window.shortcut_help
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    wait_for_routes(qtbot, window)
    assert window.service_day == TOMORROW and window.routes_model.stop_count() == 5
    qtbot.keyClick(window, Qt.Key.Key_Home, Qt.KeyboardModifier.AltModifier)
    assert window.service_day == DAY
