"""Fleet setup > Vehicle types: the energy, emission factor and fixed cost of a type, typed
into the real dialog, stored, audited, refused for a dispatcher and for bad numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.users import Role, User
from dispatcher.persistence import route_kpi_repo
from dispatcher.persistence.orm import AuditEntry
from dispatcher.users.desk import UserDesk
from dispatcher_ui.fleet_setup.dialog import FleetSetupDialog
from dispatcher_ui.fleet_setup.record_tab import RecordTab
from dispatcher_ui.main_window import MainWindow  # noqa: F401 - before the QApplication (map scheme)

UTC = ZoneInfo("UTC")


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    yield c
    c.close()


def opened(qtbot: Any, core: Core, user: User) -> tuple[FleetSetupDialog, RecordTab]:
    dialog = FleetSetupDialog(core, user, UTC)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    tab = dialog.record_tabs["vehicle_type"]
    dialog.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: not tab.busy, timeout=10000)
    return dialog, tab


def fill(qtbot: Any, tab: RecordTab, energy: str, **values: str) -> None:
    combo = tab.inputs["energy"]
    assert isinstance(combo, QComboBox)
    combo.setCurrentText(energy)
    for key, text in values.items():
        widget = tab.inputs[key]
        assert isinstance(widget, QLineEdit)
        widget.clear()
        qtbot.keyClicks(widget, text)
    with qtbot.waitSignal(tab.idle, timeout=10000):
        qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)


def test_the_built_in_types_are_listed_and_an_electric_type_is_saved(
    qtbot: Any, core: Core
) -> None:
    user = core.user  # the first login: admin
    _dialog, tab = opened(qtbot, core, user)
    assert tab.row_of("name", "van") >= 0 and tab.row_of("name", "ev") >= 0
    fill(qtbot, tab, "electric", name="EVan", energy_per_km="0,22", co2e_kg_per_unit="0.1",
         factor_source="own grid 2026", fixed_cost_per_route="35")  # fmt: skip
    qtbot.waitUntil(lambda: tab.row_of("name", "evan") >= 0, timeout=10000)
    with core.db.session() as session:
        stored = route_kpi_repo.load_profiles(session)["evan"]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "vehicle_type"))
        actions = [(a.actor, a.action, a.entity_id) for a in audit]
    assert (stored.energy, stored.energy_per_km, stored.co2e_per_unit) == ("electric", 0.22, 0.1)
    assert (stored.source, stored.fixed_cost_per_route) == ("own grid 2026", 35.0)
    assert actions == [(user.id, "vehicle_type.create", "evan")]


def test_bad_numbers_are_named_and_nothing_is_stored(qtbot: Any, core: Core) -> None:
    _dialog, tab = opened(qtbot, core, core.user)
    fill(qtbot, tab, "diesel", name="van", energy_per_km="lots", co2e_kg_per_unit="-1")
    assert "Nothing was saved" in tab.message.text()
    assert tab.errors["energy_per_km"].text() == "'lots' is not a number"
    assert tab.errors["co2e_kg_per_unit"].text()  # below 0: out of range
    with core.db.session() as session:
        assert route_kpi_repo.load_profiles(session) == {}


def test_a_dispatcher_is_refused(qtbot: Any, core: Core) -> None:
    core.user  # noqa: B018 - the admin logs in first
    UserDesk(core.db).login("dora")
    _dialog, tab = opened(qtbot, core, User("dora", Role.DISPATCHER))
    fill(qtbot, tab, "diesel", name="van", energy_per_km="0.2")
    assert "cannot change the fleet setup" in tab.message.text()
    with core.db.session() as session:
        assert route_kpi_repo.load_profiles(session) == {}
