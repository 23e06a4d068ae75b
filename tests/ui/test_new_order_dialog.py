"""File > New order…: a dispatcher types an urgent order with an address only.

The real dialog is filled in with qtbot keys and its real Save button is clicked; the address
is placed by a geocoder on loopback (tests/fake_geocoder.py) off the GUI thread, the order is
stored and audited, and, being urgent, the route boards' best-place suggestions open for it.
When the geocoder cannot place it, Place on map hands over to the map's pick mode; the
dispatcher's click is Leaflet's own click event fired in the real page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fake_geocoder import Provider
from fleet_zone import TZ_NAME, demo_day
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.geocoding import MANUAL, manual_key
from dispatcher.importing.service import import_orders
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.geocode_repo import database_geocoder
from dispatcher.persistence.orm import AuditEntry, GeocodeCacheRow, Stop
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.orders.new_order_dialog import NewOrderDialog, open_new_order

DAY = date(2026, 11, 20)


@pytest.fixture
def core(sqlite_url: str, provider: Provider, demo_core: Callable[..., Core]) -> Core:
    settings = Settings(database_url=sqlite_url)
    settings.sections["geocoding"] = {"url": provider.url, "min_delay_s": 0}
    return demo_core(sqlite_url, scenario=demo_scenario(DAY), settings=settings)


@pytest.fixture
def window(board_window: MainWindow) -> MainWindow:
    return board_window  # not shown (tests/ui/conftest.py)


def fill(qtbot, dialog: NewOrderDialog, **values: str) -> None:
    for name, text in values.items():
        edit = dialog.fields[name]
        edit.clear()
        qtbot.keyClicks(edit, text)


def save(qtbot, dialog: NewOrderDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_an_urgent_order_by_address_is_placed_stored_and_offered_a_vehicle(
    qtbot,
    window: MainWindow,
    core: Core,
) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # File > New order
    qtbot.waitUntil(lambda: getattr(window, "last_new_order_dialog", None) is not None)
    dialog = window.last_new_order_dialog
    fill(qtbot, dialog, order_id="U-1", customer_name="Ann", phone="+4930901820")
    fill(qtbot, dialog, address="1 Piccadilly, Manchester M1 1AA", window_start="14:00")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=15000)
    assert dialog.created is not None
    stop_id, order = dialog.created
    assert (order.lat, order.lon) == pytest.approx((53.4794892, -2.2451148))
    with core.db.session() as session:
        stop = session.scalar(select(Stop).where(Stop.order_ref == "U-1"))
        assert stop is not None and stop.id == stop_id and stop.route_id is None
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.create"))
        assert audit is not None and audit.entity_id == str(stop_id)
    panel = window.routes_panel
    qtbot.waitUntil(lambda: panel.last_insert_dialog is not None, timeout=5000)
    assert panel.last_insert_dialog is not None
    assert panel.last_insert_dialog.stop_id == str(stop_id)


def test_a_refused_order_keeps_the_form_and_says_why(
    qtbot,
    window: MainWindow,
    core: Core,
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


@pytest.mark.parametrize("trouble", ["finds nothing", "is down"])
def test_an_address_the_geocoder_cannot_place_is_placed_on_the_map(
    qtbot: Any,
    sqlite_url: str,
    provider: Provider,
    closed_url: str,
    tmp_path: Path,
    trouble: str,
) -> None:
    """The geocoder finds nothing (or is down): Place on map, one click, the order is saved
    there, and the next import of the address lands on that pin with the geocoder failing."""
    settings = Settings(database_url=sqlite_url)
    url = provider.url if trouble == "finds nothing" else closed_url
    settings.sections["geocoding"] = {"url": url, "min_delay_s": 0, "timeout_s": 2}
    core = Core(settings)
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    try:
        _place_on_the_map(qtbot, core, tmp_path)
    finally:
        core.close()


def _place_on_the_map(qtbot: Any, core: Core, tmp_path: Path) -> None:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    controller = window.map_controller
    qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # File > New order
    qtbot.waitUntil(lambda: getattr(window, "last_new_order_dialog", None) is not None)
    dialog: NewOrderDialog = window.last_new_order_dialog
    fill(qtbot, dialog, order_id="U-9", customer_name="Cat", address="99 Nowhere Lane")
    dialog.urgent.setChecked(False)
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: "Not saved" in dialog.status.text(), timeout=20000)
    assert "address not placed" in dialog.status.text()
    assert "Place on map puts it where you click" in dialog.status.text()
    assert dialog.place_button.isVisible()

    def picking() -> bool:
        return bool(js(qtbot, controller, "DispatcherMap.picking"))

    # once given up with Esc: the form comes back, nothing saved
    qtbot.mouseClick(dialog.place_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible() and picking(), timeout=10000)
    banner = js(qtbot, controller, "DispatcherMap.pickState().banner")
    assert banner == "Click where Cat, 99 Nowhere Lane is — Esc to cancel"
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window.routes_panel.boards["V01"].table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: dialog.isVisible() and not picking(), timeout=10000)
    assert "Not placed on the map" in dialog.status.text()

    qtbot.mouseClick(dialog.place_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible() and picking(), timeout=10000)
    click = f"DispatcherMap.map.fire('click', {{latlng: L.latLng({PIN[0]}, {PIN[1]})}}); 1"
    js(qtbot, controller, click)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=20000)
    assert dialog.created is not None
    stop_id, order = dialog.created
    assert (order.lat, order.lon) == pytest.approx(PIN)
    assert "(placed by hand)" in window.statusBar().currentMessage()
    with core.db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None and (stop.lat, stop.lon) == pytest.approx(PIN)
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.create"))
        assert audit is not None and audit.actor == core.user.id and audit.after is not None
        assert audit.after["position"] == "placed by hand"
        pin = session.get(GeocodeCacheRow, manual_key("99 nowhere  LANE"))
        assert pin is not None and pin.provider == MANUAL
    _import_lands_on_the_pin(core, tmp_path)


def _import_lands_on_the_pin(core: Core, tmp_path: Path) -> None:
    """The same address in a CSV: placed on the pin, the failing geocoder not needed."""
    again = tmp_path / "again.csv"
    again.write_text("order_id,customer_name,address\nU-10,Cat,99 Nowhere Lane\n")
    report = import_orders(
        core.db,
        again,
        default_date=DAY,
        timezone=TZ_NAME,
        actor=core.user.id,
        geocoder=database_geocoder(core.settings, core.db),
    )
    assert report.errors == [] and report.by_hand == 1
    with core.db.session() as session:
        placed = session.scalar(select(Stop).where(Stop.order_ref == "U-10"))
        assert placed is not None and (placed.lat, placed.lon) == pytest.approx(PIN)


#: Where the dispatcher clicks: a street corner in Manchester (the fleet's city here).
PIN = (53.477212, -2.239051)


def js(qtbot: Any, controller: Any, source: str) -> Any:
    box: list[Any] = []
    controller.view.page().runJavaScript(source, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    return box[0]


def test_an_order_s_constraints_are_typed_and_stored(
    qtbot,
    window: MainWindow,
    core: Core,
    tmp_path: Path,
) -> None:
    """Skills, weight, volume and a pair key typed into New order… reach the stored stop
    (the planner reads them: docs/planning.md, "Constraints")."""
    dialog = open_new_order(window, "Europe/Berlin")
    qtbot.waitUntil(lambda: dialog.vehicle.count() == 1 + len(core.vehicle_names()))
    dialog.urgent.setChecked(False)
    fill(qtbot, dialog, order_id="U-7", lat="52.52", lon="13.40", skills="cold, lift")
    fill(qtbot, dialog, weight_kg="lots")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: "weight_kg 'lots' is not a number" in dialog.status.text())
    fill(qtbot, dialog, weight_kg="120", volume_l="300", pair="S-9")
    dialog.grab().save(str(tmp_path / "new_order_constraints.png"))
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=15000)
    with core.db.session() as session:
        stop = session.scalar(select(Stop).where(Stop.order_ref == "U-7"))
        assert stop is not None
        assert (stop.required_skills, stop.weight_kg, stop.volume_l, stop.pair_key) == (
            ["cold", "lift"],
            120,
            300,
            "S-9",
        )


def test_an_order_typed_onto_a_van_without_its_skill_says_what_it_breaks(
    qtbot,
    window: MainWindow,
    core: Core,
) -> None:
    """A new order that names its vehicle goes onto that route without the question a move
    asks; the change line then says what it breaks there, with the stop selected."""
    dialog = open_new_order(window, "Europe/Berlin")
    qtbot.waitUntil(lambda: dialog.vehicle.count() == 1 + len(core.vehicle_names()))
    dialog.urgent.setChecked(False)
    dialog.vehicle.setCurrentIndex(dialog.vehicle.findData("V01"))
    fill(qtbot, dialog, order_id="U-8", lat="52.52", lon="13.40", skills="cold")
    save(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=15000)
    assert dialog.created is not None
    stop_id = str(dialog.created[0])
    panel = window.routes_panel
    qtbot.waitUntil(lambda: "U-8" in panel.change_label.text(), timeout=15000)
    text = panel.change_label.text()
    assert text.startswith("Order U-8 is on V01's route but breaks V01 lacks cold for stop U-8")
    assert panel.boards["V01"].selected_stop_ids() == [stop_id]
