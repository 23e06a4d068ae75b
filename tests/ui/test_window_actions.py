"""Actions of the main window driven as a dispatcher drives them: keys and clicks on the real
window over the demo day, real dialogs answered with ``answer_modal``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, TZ, utc
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from routes_wait import wait_for_routes

from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.alerts import AlertKind, Condition, Severity
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.scenario.demo import demo_scenario
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.shortcuts import WINDOW, DuplicateShortcut, ShortcutRegistry

#: Mid-morning in the fleet's zone (Berlin 10:00 is 09:00 UTC; St John's on its fall-back
#: day in the second run): the vans of the demo day are on the road.
T0 = utc(10, 0)
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite3'}"), clock=FakeClock(T0))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_scenario(DAY, n_orders=40, n_vehicles=3))
    yield c
    c.close()


def raise_late(core: Core, stop_id: int, vehicle_id: str) -> None:
    cond = Condition(
        AlertKind.LATE,
        f"stop:{stop_id}",
        Severity.HIGH,
        f"Stop {stop_id} late",
        sla_deadline=T0 + timedelta(minutes=30),
        vehicle_id=vehicle_id,
        stop_id=str(stop_id),
    )
    with alert_store(core.db) as store:
        AlertService(store, core.clock).reconcile([cond], list(AlertKind))


def test_a_key_bound_twice_in_one_context_fails_at_once(qapp: Any) -> None:
    registry = ShortcutRegistry()
    registry.create(qapp, "Move stops to &vehicle…", lambda: None, "Ctrl+Shift+M")
    with pytest.raises(DuplicateShortcut, match="Ctrl\\+Shift\\+M is bound twice"):
        registry.create(qapp, "Message &history", lambda: None, "Ctrl+Shift+M")
    registry.add_key("replay bar", "play", "Space", "Play")
    registry.add_key("exception queue", "pause", "Space", "Not the same widget: no clash")
    with pytest.raises(DuplicateShortcut, match="Space"):
        registry.create(qapp, "Anywhere", lambda: None, "Space", context=WINDOW)
    with pytest.raises(DuplicateShortcut, match="registered as"):
        registry.add_key("replay bar", "play", "P", "Same name twice")


def test_ctrl_shift_m_moves_stops_and_help_lists_each_key_once(
    qtbot: Any, window: MainWindow, answer_modal: Any
) -> None:
    board = window.routes_panel.boards["V01"]
    first = board.model.stop_id(0)
    board.table.setFocus()
    board.select_stops([first])
    cancel = QDialogButtonBox.StandardButton.Cancel
    seen = answer_modal(
        lambda d: qtbot.mouseClick(
            d.findChild(QDialogButtonBox).button(cancel), Qt.MouseButton.LeftButton
        )
    )
    qtbot.keyClick(board.table, Qt.Key.Key_M, CTRL_SHIFT)
    qtbot.waitUntil(lambda: bool(seen))
    assert seen[0].title == "Move to vehicle"

    window.activateWindow()  # back from the modal
    qtbot.waitUntil(window.isActiveWindow)
    help_seen = answer_modal(lambda d: d.close())
    qtbot.keyClick(board.table, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: bool(help_seen))
    keys = [k for k, _ in window.shortcut_help]
    assert help_seen[0].title == "Keyboard shortcuts"
    assert help_seen[0].text.count("Ctrl+Shift+M") == 1
    assert len(keys) == len(set(keys)), "every key once in Help"


def test_clicking_an_exception_keeps_it_selected_for_replay(
    qtbot: Any, window: MainWindow, core: Core
) -> None:
    stop = core.load_routes()[1].stops[2]
    raise_late(core, stop.id, "V02")
    panel = window.exceptions_panel
    panel.reload(background=False)
    rect = panel.view.visualRect(panel.proxy.index(0, 1))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.routes_panel.boards["V02"].selected_stop_ids() == [str(stop.id)]
    assert window.selection.current.alert_id == 1, "the board's echo kept the exception"
    qtbot.keyClick(
        window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    )
    assert "Select an exception first" not in window.statusBar().currentMessage()
    # the exception's time is read off the GUI thread; then the replay opens around it
    qtbot.waitUntil(window.docks["history"].isVisible, timeout=10000)


def put_on_the_road(window: MainWindow, *vehicle_ids: str) -> None:
    """Vans with a live position after their shift began: they have left the depot."""
    controller = window.routes_panel.controller
    assert controller.day is not None
    routes = {r.vehicle_id: r for r in window.core.load_routes()}
    positions = {v: (routes[v].stops[0].lat, routes[v].stops[0].lon) for v in vehicle_ids}
    controller.day.place_vehicles(positions, window.core.clock.now())


def test_a_delivery_dropped_on_a_van_on_the_road_is_refused_in_full_words(
    qtbot: Any, window: MainWindow, answer_modal: Any
) -> None:
    from PySide6.QtWidgets import QComboBox

    panel = window.routes_panel
    controller = panel.controller
    sid = window.routes_panel.boards["V01"].model.stop_id(0)
    assert controller.move([sid], "", 0)  # unassigned, as a fresh urgent order would be
    assert controller.day is not None
    ref = controller.day.stops[sid].order_ref
    put_on_the_road(window, "V01", "V02", "V03")
    unassigned = panel.boards[""]
    unassigned.table.setFocus()
    unassigned.select_stops([sid])

    def pick_v02(dialog: Any) -> None:
        combo = dialog.findChild(QComboBox)
        combo.setCurrentIndex(combo.findText("V02"))
        qtbot.mouseClick(
            dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
            Qt.MouseButton.LeftButton,
        )

    answer_modal(pick_v02)
    qtbot.keyClick(unassigned.table, Qt.Key.Key_M, CTRL_SHIFT)
    assert sid not in controller.route("V02"), "refused, not accepted as an improvement"
    assert panel.change_label.text() == (
        f"Not changed: V02 has left the depot: the goods of stop {ref} (a delivery) are not "
        "on board, so it cannot take it (give it to a vehicle still at the depot, or plan it "
        "for the next run)"
    )
    assert panel.change_label.wordWrap()

    window.activateWindow()  # back from the modal
    qtbot.waitUntil(window.isActiveWindow)
    unassigned.table.setFocus()
    unassigned.select_stops([sid])
    qtbot.keyClick(unassigned.table, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    dialog = panel.last_insert_dialog
    assert dialog is not None
    assert dialog.note.text() == (
        f"No vehicle can take stop {ref} (a delivery) now: all 3 vehicles have left the depot "
        "and its goods are not on board. Plan it for a vehicle's next run from the depot, or "
        "leave it unassigned for tomorrow."
    )
    assert dialog.note.wordWrap()
    dialog.reject()


def test_the_status_bar_does_not_count_unassigned_as_a_route(
    qtbot: Any, window: MainWindow
) -> None:
    board = window.routes_panel.boards["V01"]  # the first board: in view, so it takes keys
    sid = board.model.stop_id(0)
    assert window.routes_panel.controller.move([sid], "", 0)
    qtbot.keyClick(board.table, Qt.Key.Key_F5)
    wait_for_routes(qtbot, window)
    # A read that raced the save is read again once the save is stored (reload_routes).
    qtbot.waitUntil(lambda: window.stats_label.text() == "3 routes · 40 stops · 1 unassigned")


def test_the_fleet_tab_shows_no_speed_for_an_offline_van(qtbot: Any, window: MainWindow) -> None:
    from dispatcher.fleet.state import FleetChanged
    from dispatcher.model.core import PositionReport
    from dispatcher_ui.fleet_model import FleetColumn

    fleet = window.fleet_model._fleet
    fix = PositionReport("V01", T0, 52.5, 13.4, speed_kmh=36.0, heading_deg=0.0)
    changed, _ = fleet.apply_positions([(fix, False)], T0)
    window.core.bus.publish(FleetChanged(frozenset(changed), frozenset(changed)))
    view = window.fleet_view

    def speed() -> str:
        model = view.model()
        rows = [r for r in range(model.rowCount()) if "V01" in model.index(r, 0).data()]
        return str(model.index(rows[0], FleetColumn.SPEED).data())

    qtbot.waitUntil(lambda: speed() == "36")
    gone = fleet.sweep(T0 + timedelta(hours=2), force=True)
    window.core.bus.publish(FleetChanged(frozenset(gone), frozenset(gone)))
    qtbot.waitUntil(lambda: speed() == "")


def test_the_detail_pane_says_the_facts_in_words_in_the_fleet_zone(
    qtbot: Any, window: MainWindow, core: Core
) -> None:
    from dispatcher_ui.exceptions.model import SEVERITY_COLOURS
    from dispatcher_ui.themes import STATUS_COLOURS

    stop = core.load_routes()[1].stops[2]
    cond = Condition(
        AlertKind.LATE,
        f"stop:{stop.id}",
        Severity.HIGH,
        f"Stop {stop.id} predicted 6 min late",
        details={
            "basis": "predicted",
            "late_min": 6.3,
            "window_end": "2026-11-20T10:00:00+00:00",
            "predicted_arrival": "2026-11-20T10:06:18+00:00",
        },
        sla_deadline=T0 + timedelta(minutes=30),
        vehicle_id="V02",
        stop_id=str(stop.id),
    )
    with alert_store(core.db) as store:
        AlertService(store, core.clock).reconcile([cond], list(AlertKind))
    panel = window.exceptions_panel
    panel.reload(background=False)
    rect = panel.view.visualRect(panel.proxy.index(0, 1))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: "History" in panel.detail.toPlainText())
    text = panel.detail.toPlainText()
    assert "Lateness\npredicted 6 min late" in text
    eta = datetime.fromisoformat("2026-11-20T10:06:18+00:00").astimezone(TZ)
    assert f"predicted {eta:%H:%M}" in text, "the ETA in the fleet's time"
    for raw in ("late_min", "basis", "+00:00", "window_end"):
        assert raw not in text
    assert SEVERITY_COLOURS[Severity.HIGH] == STATUS_COLOURS["late"], "one red for late"


def test_a_late_stop_is_named_by_its_order_number_as_on_the_board(
    qtbot: Any, window: MainWindow, core: Core
) -> None:
    from dispatcher.alerts.engine import RuleEngine
    from dispatcher.alerts.facts import Snapshot, StopFacts
    from dispatcher_ui.exceptions.model import Column

    view = core.load_routes()[1].stops[2]
    facts = StopFacts(
        stop_id=str(view.id),
        vehicle_id="V02",
        customer_name=view.customer_name,
        window_start=T0 - timedelta(hours=1),
        window_end=T0,
        predicted_arrival=T0 + timedelta(minutes=9),
        order_ref=view.order_ref,
    )
    conditions = RuleEngine(core.clock).evaluate(Snapshot(stops=(facts,)))
    with alert_store(core.db) as store:
        AlertService(store, core.clock).reconcile(conditions, list(AlertKind))
    panel = window.exceptions_panel
    panel.reload(background=False)
    title = panel.model.index(0, Column.TITLE).data()
    assert title == f"Stop {view.order_ref} ({view.customer_name}) predicted 9 min late"
    assert panel.model.index(0, Column.STOP).data() == f"{view.customer_name} · {view.order_ref}"
    assert f"#{view.id}" not in title


def test_the_whole_fleet_preview_summarises_per_vehicle(qtbot: Any, window: MainWindow) -> None:
    board = window.routes_panel.boards["V01"]
    board.table.setFocus()
    board.select_stops([board.model.stop_id(0)])
    qtbot.keyClick(board.table, Qt.Key.Key_O, CTRL_SHIFT)
    dialog = window.routes_panel.last_optimize_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.outcome is not None or bool(dialog.error), timeout=60000)
    result = dialog.outcome
    assert result is not None and len(result.moved) > 8
    assert dialog.moved.text().startswith(  # late stops, if any, are named after it
        f"{len(result.moved)} stops move; what changes on each vehicle is in the table."
    )
    header = dialog.table.horizontalHeaderItem(5)
    cells = [dialog.table.item(r, 5) for r in range(dialog.table.rowCount())]
    changes = [c.text() for c in cells if c is not None]
    assert header is not None and header.text() == "changes"
    assert len(changes) == len(cells) == 3
    assert all(c == "unchanged" or "stops" in c or "reordered" in c for c in changes)
    dialog.reject()
