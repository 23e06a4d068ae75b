"""Route boards: drag between vehicles with instant ETAs, undo, locks, optimize, conflicts.

Each test opens the real main window over the demo day (SQLite), so the boards, the core
commands, the evaluator and the database work together as a dispatcher would use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from board_drag import drop_on
from fleet_zone import DAY
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from dispatcher.core import Core
from dispatcher.model.core import StopStatus
from dispatcher.persistence import fleet_repo
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board_model import Column, Role, VehicleBoardModel
from dispatcher_ui.routes.panel import RoutesPanel


@pytest.fixture
def core(sqlite_url: str, demo_core: Callable[..., Core]) -> Core:
    return demo_core(sqlite_url)


@pytest.fixture
def window(board_window: MainWindow) -> MainWindow:
    return board_window  # not shown (tests/ui/conftest.py)


def panel_of(window: MainWindow) -> RoutesPanel:
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    return panel


def stored_route(core: Core, vehicle_id: str) -> list[str]:
    routes = {r.vehicle_id: r for r in core.load_routes(DAY)}
    return [str(s.id) for s in routes[vehicle_id].stops]


def show_active(qtbot, window: MainWindow) -> None:
    """Window shortcuts (Ctrl+Z, Alt+Up) fire only in the active window."""
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_board_models_pass_the_model_tester(qtmodeltester, window: MainWindow) -> None:
    panel = panel_of(window)
    for vid in ("V01", "V11", ""):
        qtmodeltester.check(VehicleBoardModel(panel.controller, vid))
    model = panel.boards["V04"].model
    assert model.rowCount() == len(stored_route(window.core, "V04"))
    assert model.index(0, Column.ETA).data()  # every open stop has an ETA
    assert any(model.index(r, 0).data(Role.LATE) for r in range(model.rowCount()))


def test_drag_to_another_vehicle_reassigns_updates_etas_and_ctrl_z_restores(
    qtbot,
    window: MainWindow,
) -> None:
    show_active(qtbot, window)
    panel = panel_of(window)
    c = panel.controller
    source, target = panel.boards["V04"], panel.boards["V12"]
    late_row = next(
        r for r in range(source.model.rowCount()) if source.model.index(r, 0).data(Role.LATE)
    )
    sid = source.model.stop_id(late_row)
    before_v04, before_v12 = stored_route(window.core, "V04"), stored_route(window.core, "V12")
    v12_eta_before = target.model.index(1, Column.ETA).data()

    drop_on(target, [sid], 1)

    assert c.day is not None
    assert c.day.plan.routes["V12"][1] == sid and sid not in c.day.plan.routes["V04"]
    assert target.model.stop_id(1) == sid and target.model.index(1, Column.ETA).data()
    assert target.model.index(2, Column.ETA).data() != v12_eta_before  # ETAs moved on at once
    qtbot.waitUntil(lambda: not c.saving)
    assert stored_route(window.core, "V12")[1] == sid  # saved
    assert c.evaluation is not None and c.evaluation.routes["V04"].late_stops == 0
    assert "late →" in panel.change_label.text()

    target.table.setFocus()
    qtbot.keyClick(target.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    assert c.day.plan.routes["V04"] == before_v04 and c.day.plan.routes["V12"] == before_v12
    qtbot.waitUntil(lambda: not c.saving)
    assert stored_route(window.core, "V04") == before_v04
    assert source.model.index(late_row, 0).data(Role.STOP_ID) == sid
    qtbot.keyClick(
        target.table,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert c.day.plan.routes["V12"][1] == sid  # redo
    qtbot.waitUntil(lambda: not c.saving)
    assert stored_route(window.core, "V12")[1] == sid


def test_several_stops_move_within_a_route_and_done_stops_stay(window: MainWindow) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    route = list(c.day.plan.routes["V02"])
    assert c.move(route[3:5], "V02", 0)
    assert c.day.plan.routes["V02"][:2] == route[3:5]
    # a done stop cannot be dragged: the model offers no drag, the command refuses it
    first = c.day.plan.routes["V02"][0]
    c.day.plan.stops[first] = replace(c.day.plan.stops[first], status=StopStatus.DONE)
    board = panel.boards["V02"]
    assert not board.model.flags(board.model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled
    assert not c.move([first], "V01", 0)
    assert "cannot be moved" in panel.change_label.text()
    assert not c.move([route[7]], "V02", 0)  # nor can anything go before it


def test_keyboard_moves_and_locks_are_saved_and_undoable(qtbot, window: MainWindow) -> None:
    show_active(qtbot, window)
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    board = panel.boards["V03"]
    route = list(c.day.plan.routes["V03"])
    board.select_stops([route[2]])
    board.table.setFocus()
    qtbot.keyClick(board.table, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert c.day.plan.routes["V03"][1] == route[2]
    assert board.selected_stop_ids() == [route[2]]  # the selection follows the stop
    panel.toggle_pin()
    assert c.day.plan.stops[route[2]].pinned
    qtbot.waitUntil(lambda: not c.saving)
    stored = {s.id: s for r in window.core.load_routes(DAY) for s in r.stops}
    assert stored[int(route[2])].pinned
    assert "pinned" in board.model.index(1, Column.LOCKS).data()
    c.undo()
    assert not c.day.plan.stops[route[2]].pinned
    qtbot.waitUntil(lambda: not c.saving)
    stored = {s.id: s for r in window.core.load_routes(DAY) for s in r.stops}
    assert not stored[int(route[2])].pinned


def test_selection_is_shared_with_the_window(window: MainWindow) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    sid = c.day.plan.routes["V06"][4]
    panel.boards["V06"].select_stops([sid])
    assert window.selection.current.stop_id == int(sid)
    other = c.day.plan.routes["V09"][2]
    window.selection.select_stop(int(other), "V09", source="map")
    assert panel.boards["V09"].selected_stop_ids() == [other]


def test_a_concurrent_save_is_a_conflict_with_a_reload(qtbot, window: MainWindow) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    said: list[str] = []
    c.message.connect(said.append)
    route = stored_route(window.core, "V05")
    with window.core.db.session() as session:  # another workstation reverses V05
        version = {r.vehicle_id: r.version for r in fleet_repo.load_routes(session, DAY)}["V05"]
        save_as_desk2(
            session,
            DAY,
            [fleet_repo.RouteWrite("V05", version, tuple(map(_write, reversed(route))))],
        )
    moved = c.day.plan.routes["V05"][3]
    assert c.move([moved], "V05", 0)
    assert c.day.plan.routes["V05"][0] == moved  # shown at once, saved in the background
    qtbot.waitUntil(lambda: c.day is not None and c.day.plan.routes["V05"] == route[::-1])
    assert any(m.startswith("Not saved") and "another workstation" in m for m in said), said
    assert "changed the route of V05" in panel.change_label.text()  # their change is shown
    assert stored_route(window.core, "V05") == route[::-1]
    assert not c.saving and not panel.saving_label.isVisibleTo(panel)


def test_a_viewer_drag_is_refused_by_the_core_and_taken_back(qtbot, window: MainWindow) -> None:
    from dispatcher.users.desk import UserDesk

    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    me, users = window.core.user.id, UserDesk(window.core.db)
    users.login("boss")
    users.set_role(me, "boss", "admin")
    users.set_role("boss", me, "viewer")  # taken away on another desk while the board is open
    route = list(c.day.plan.routes["V02"])
    assert c.move(route[3:5], "V02", 0)
    qtbot.waitUntil(lambda: "viewer role and cannot edit routes" in panel.change_label.text())
    assert c.day.plan.routes["V02"] == route, "the edit is taken back"
    assert stored_route(window.core, "V02") == route


def _write(sid: str) -> fleet_repo.StopWrite:
    return fleet_repo.StopWrite(int(sid))


def test_urgent_stop_gets_ranked_suggestions_and_one_click_accept(window: MainWindow) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    sid = c.day.plan.routes["V07"][5]
    assert c.move([sid], "", 0)  # unassign it: now it is an order waiting for a vehicle
    from dispatcher_ui.routes.insert_dialog import show_suggestions

    dialog = show_suggestions(panel, sid)
    sugg = dialog.suggestions
    assert sugg and [s.rank_key for s in sugg] == sorted(s.rank_key for s in sugg)
    assert dialog.accept_suggestion(sugg[0])
    assert c.day.plan.routes[sugg[0].vehicle_id][sugg[0].index] == sid
    assert sid not in c.day.plan.unassigned


@pytest.mark.slow
def test_optimizing_a_route_with_a_pinned_stop_keeps_it(qtbot, window: MainWindow) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    route = list(c.day.plan.routes["V11"])
    c.move([route[0]], "V11", len(route))  # make the route worse so the optimizer moves stops
    pinned = c.day.plan.routes["V11"][3]
    assert c.set_locks([pinned], pinned=True)
    from dispatcher_ui.routes.optimize_dialog import start_optimization

    dialog = start_optimization(panel, "V11")
    qtbot.waitUntil(lambda: dialog.outcome is not None or dialog.error is not None, timeout=60000)
    assert dialog.error is None and dialog.outcome is not None
    assert dialog.outcome.honours_locks
    if dialog.apply_button.isVisible():
        dialog.apply()
        assert dialog.applied
    assert c.day.plan.routes["V11"].index(pinned) == 3
    assert stored_route(window.core, "V11").index(pinned) == 3


def test_message_customer_is_offered_for_the_selected_stop(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dispatcher_ui.messages.actions

    calls: list[int] = []
    monkeypatch.setattr(
        dispatcher_ui.messages.actions, "message_customer", lambda w, sid: calls.append(sid)
    )
    panel = panel_of(window)
    assert panel.controller.day is not None
    sid = panel.controller.day.plan.routes["V08"][2]
    panel.boards["V08"].select_stops([sid])
    panel.message_customer()
    assert calls == [int(sid)]


def save_as_desk2(session: Any, *args: Any) -> dict[str, tuple[int, int]]:
    """Save routes as another desk's user (the core checks the actor's role)."""
    from dispatcher.persistence import users_repo

    return fleet_repo.save_routes(session, *args, actor=users_repo.login(session, "desk2").id)


def test_a_board_says_when_its_van_leaves_the_depot(qtbot: Any, window: MainWindow) -> None:
    """The header names the planned departure: as late as the first stop's window allows,
    the start of every ETA on the board (no "07:04" for a stop that opens at 11:00)."""
    show_active(qtbot, window)
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    for vid, board in panel.boards.items():
        ev = c.route_evaluation(vid)
        if vid == "" or ev is None or not ev.stop_ids or c.day.plan.vehicles[vid].on_road:
            continue
        leaves = c.day.clock_time(ev.start_time)
        assert f"leaves {leaves:%H:%M}" in board.header.text()
        assert float(ev.waiting[0]) < 1.0  # it arrives as its first window opens, or later
        row = board.model.row_of(ev.stop_ids[0])
        first_eta = board.model.index(row, Column.ETA).data()
        assert first_eta == c.day.clock_time(float(ev.arrival[0])).strftime("%H:%M")
