"""File > New order…: a dispatcher types an urgent order with an address only.

The real dialog is filled in with qtbot keys and its real Save button is clicked; the address
is placed by a geocoder on loopback (tests/fake_geocoder.py) off the GUI thread, the order is
stored and audited, and, being urgent, the route boards' best-place suggestions open for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fake_geocoder import Provider
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from routes_wait import wait_for_routes
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import AuditEntry, Stop
from dispatcher.scenario.demo import demo_scenario
from ui.main_window import MainWindow
from ui.orders.new_order_dialog import NewOrderDialog, open_new_order

DAY = date(2026, 11, 20)


@pytest.fixture
def core(sqlite_url: str, provider: Provider) -> Iterator[Core]:
    settings = Settings(database_url=sqlite_url)
    settings.sections["geocoding"] = {"url": provider.url, "min_delay_s": 0}
    c = Core(settings)
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_scenario(DAY))
    yield c
    c.close()


@pytest.fixture
def window(qtbot, core: Core, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    wait_for_routes(qtbot, w)
    return w


def fill(qtbot, dialog: NewOrderDialog, **values: str) -> None:  # type: ignore[no-untyped-def]
    for name, text in values.items():
        edit = dialog.fields[name]
        edit.clear()
        qtbot.keyClicks(edit, text)


def save(qtbot, dialog: NewOrderDialog) -> None:  # type: ignore[no-untyped-def]
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_an_urgent_order_by_address_is_placed_stored_and_offered_a_vehicle(
    qtbot,
    window: MainWindow,
    core: Core,  # type: ignore[no-untyped-def]
) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # File > New order
    qtbot.waitUntil(lambda: getattr(window, "last_new_order_dialog", None) is not None)
    dialog = window.last_new_order_dialog  # type: ignore[attr-defined]
    fill(qtbot, dialog, order_id="U-1", customer_name="Ann", phone="+4930901820")
    fill(qtbot, dialog, address="1 Piccadilly, Manchester M1 1AA", window_start="14:00")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=15000)
    stop_id, order = dialog.created  # type: ignore[misc]
    assert (order.lat, order.lon) == pytest.approx((53.4794892, -2.2451148))
    with core.db.session() as session:
        stop = session.scalar(select(Stop).where(Stop.order_ref == "U-1"))
        assert stop is not None and stop.id == stop_id and stop.route_id is None
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.create"))
        assert audit is not None and audit.entity_id == str(stop_id)
    panel = window.routes_panel
    qtbot.waitUntil(lambda: panel.last_insert_dialog is not None, timeout=5000)
    assert panel.last_insert_dialog.stop_id == str(stop_id)


def test_a_refused_order_keeps_the_form_and_says_why(
    qtbot,
    window: MainWindow,
    core: Core,  # type: ignore[no-untyped-def]
) -> None:
    dialog = open_new_order(window, "Europe/Berlin")
    qtbot.waitUntil(lambda: dialog.vehicle.count() == 1 + len(core.vehicle_names()))
    fill(qtbot, dialog, order_id="U-2", address="99 Nowhere Lane")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: "Not saved" in dialog.status.text(), timeout=15000)
    assert "no place found for '99 Nowhere Lane'" in dialog.status.text()
    assert dialog.isVisible() and dialog.fields["order_id"].text() == "U-2"
    fill(qtbot, dialog, address="", lat="52.52", lon="13.40", window_start="12:00")
    fill(qtbot, dialog, window_end="11:00")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: "before it starts" in dialog.status.text(), timeout=15000)
    with core.db.session() as session:
        assert session.scalar(select(Stop).where(Stop.order_ref == "U-2")) is None
