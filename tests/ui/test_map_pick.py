"""Map > Fix position on map…: a dispatcher drops a pin where an order really is.

The real console: a stop is selected on its route board, pick mode is started with the real
shortcut (Ctrl+Alt+P) or the board's real context menu, and the dispatcher's click is Leaflet's
own click event fired at a position in the real page (``map.fire('click', {latlng})``). The
save runs off the GUI thread; the tests wait for the database row. The fleet is the demo's on
the suite's day and in its zone (tests/fleet_zone.py); the main flow runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import demo_day
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMenu
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.geocoding import MANUAL, manual_key
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import AuditEntry, GeocodeCacheRow, Stop
from dispatcher.persistence.stop_position_repo import fix_stop_position, read_stop_place
from dispatcher.users.desk import UserDesk
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.map.controller import MapController

#: A few kilometres south-east of the demo's stops: the route's times move.
SPOT = (52.4711, 13.5212)
CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
#: Round trips through the page and the worker threads: room for a loaded machine.
WAIT = {"timeout": 15000}


@pytest.fixture
def core(db_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=db_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    UserDesk(c.db).add(c.user.id, "bob", "dispatcher")  # the desk's user: the first, admin
    yield c
    c.close()


@pytest.fixture
def sqlite_core(sqlite_url: str) -> Iterator[Core]:
    c = Core(Settings(database_url=sqlite_url))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    UserDesk(c.db).add(c.user.id, "bob", "dispatcher")
    yield c
    c.close()


def open_window(qtbot: Any, core: Core, tmp_path: Path) -> tuple[MainWindow, MapController]:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    qtbot.waitExposed(window)
    controller: MapController = window.map_controller
    qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    tick_until(qtbot, controller, lambda: bool(controller.routes))
    return window, controller


def js(qtbot: Any, controller: MapController, source: str) -> Any:
    box: list[Any] = []
    controller.view.page().runJavaScript(source, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    return box[0]


def tick_until(qtbot: Any, controller: MapController, check: Any) -> None:
    def done() -> bool:
        controller.tick()
        return bool(check())

    qtbot.waitUntil(done, timeout=20000)


def pick_state(qtbot: Any, controller: MapController) -> dict[str, Any]:
    return json.loads(js(qtbot, controller, "JSON.stringify(DispatcherMap.pickState())"))


def click_map(qtbot: Any, controller: MapController, lat: float, lon: float) -> None:
    """The dispatcher's click: Leaflet's own click event at a position, in the real page."""
    js(qtbot, controller, f"DispatcherMap.map.fire('click', {{latlng: L.latLng({lat}, {lon})}}); 1")


def select_last_stop(qtbot: Any, window: MainWindow, vehicle: str = "V01") -> Any:
    """Select the vehicle's last (pending) stop on its board, as a click on its row would."""
    board = window.routes_panel.boards[vehicle]
    sid = board.model.stop_id(board.model.rowCount() - 1)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, **WAIT)
    board.table.setFocus()
    board.select_stops([sid])
    qtbot.waitUntil(lambda: window.selection.current.stop_id == int(sid))
    day = window.routes_panel.controller.day
    assert day is not None
    return board, day.stops[sid]


def stored(core: Core, stop_id: int) -> tuple[float, float]:
    with core.db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None
        return stop.lat, stop.lon


def start_with_keys(qtbot: Any, window: MainWindow, board: Any, controller: MapController) -> None:
    qtbot.keyClick(board.table, Qt.Key.Key_P, CTRL_ALT)  # Map > Fix position on map…
    tick_until(qtbot, controller, lambda: pick_state(qtbot, controller)["picking"])


def test_a_click_on_the_map_moves_the_stop_its_etas_and_its_marker(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    board, view = select_last_stop(qtbot, window)
    sid, before = str(view.id), (view.lat, view.lon)
    boards = window.routes_panel.controller
    eta_before = boards.etas[sid].arrival
    start_with_keys(qtbot, window, board, controller)
    state = pick_state(qtbot, controller)
    assert state["banner"] == f"Click where {view.customer_name}, {view.address} is — Esc to cancel"
    assert state["cursor"] == "crosshair" and window.docks["map"].isVisible()

    click_map(qtbot, controller, *SPOT)
    qtbot.waitUntil(lambda: stored(core, view.id) == SPOT, timeout=20000)
    qtbot.waitUntil(lambda: "placed at 52.47110, 13.52120" in said(window), timeout=10000)
    assert not pick_state(qtbot, controller)["picking"]
    with core.db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "stop.position"))
        rows = [(a.actor, a.entity_id, (a.after or {})["undo"]) for a in audit]
        pin = session.get(GeocodeCacheRow, manual_key(view.address))
    assert rows == [(core.user.id, sid, False)]  # the desk's real user, not "dispatcher"
    assert pin is not None and pin.provider == MANUAL and (pin.lat, pin.lon) == SPOT
    day = boards.day
    assert day is not None and day.plan.stops[sid].location == SPOT
    assert boards.etas[sid].arrival != eta_before  # the one ETA table was recomputed
    assert controller.etas[view.id].arrival == boards.etas[sid].arrival  # and the map has it
    marker = f"JSON.stringify(DispatcherMap.stopLatLng({sid}))"
    tick_until(qtbot, controller, lambda: json.loads(js(qtbot, controller, marker)) == list(SPOT))
    assert pick_state(qtbot, controller)["pin"] is None

    undo = window.shortcuts.find("window", "Undo position fix").action
    assert undo is not None
    undo.trigger()  # Map > Undo position fix
    qtbot.waitUntil(lambda: stored(core, view.id) == before, timeout=20000)
    qtbot.waitUntil(lambda: "is back at" in said(window), timeout=10000)
    assert boards.etas[sid].arrival == eta_before
    with core.db.session() as session:
        assert session.get(GeocodeCacheRow, manual_key(view.address)) is None
    assert not controller.view.map_page.errors


def test_a_click_off_the_world_or_at_0_0_is_refused_and_esc_cancels(
    qtbot: Any, sqlite_core: Core, tmp_path: Path
) -> None:
    core = sqlite_core
    window, controller = open_window(qtbot, core, tmp_path)
    board, view = select_last_stop(qtbot, window, "V02")
    before = (view.lat, view.lon)
    # the board's own context menu this time
    rect = board.table.visualRect(board.table.currentIndex())
    board.table.customContextMenuRequested.emit(rect.center())
    qtbot.waitUntil(lambda: any(m.isVisible() for m in panel_menus(window)))
    menu = next(m for m in panel_menus(window) if m.isVisible())
    action = next(a for a in menu.actions() if a.text().startswith("Fix position on map…"))
    menu.setActiveAction(action)
    qtbot.keyClick(menu, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not menu.isVisible())
    tick_until(qtbot, controller, lambda: pick_state(qtbot, controller)["picking"])

    for lat, lon, reason in ((0.0, 0.0, "0,0 is the mark"), (52.5, 373.4, "longitude")):
        click_map(qtbot, controller, lat, lon)
        qtbot.waitUntil(lambda r=reason: r in pick_state(qtbot, controller)["banner"], **WAIT)
        state = pick_state(qtbot, controller)
        assert state["picking"] and state["refused"] and state["banner"].startswith("Not there:")
        assert reason in window.statusBar().currentMessage()
    assert stored(core, view.id) == before

    window.activateWindow()  # the context menu had the focus
    qtbot.waitUntil(window.isActiveWindow, **WAIT)
    qtbot.keyClick(board.table, Qt.Key.Key_Escape)
    tick_until(qtbot, controller, lambda: not pick_state(qtbot, controller)["picking"])
    assert pick_state(qtbot, controller)["banner"] == ""
    assert "not changed" in said(window)
    click_map(qtbot, controller, *SPOT)  # after Esc a click is just a click
    QApplication.processEvents()
    assert stored(core, view.id) == before
    assert not controller.view.map_page.errors


def test_a_fix_another_desk_overtook_is_refused_cleanly(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window, controller = open_window(qtbot, core, tmp_path)
    board, view = select_last_stop(qtbot, window, "V03")
    start_with_keys(qtbot, window, board, controller)
    with core.db.session() as session:  # Bob's desk places the same order meanwhile
        version = read_stop_place(session, view.id).version
    with core.db.session() as session:
        fix_stop_position(session, view.id, 52.50, 13.30, expected_version=version, actor="bob")

    click_map(qtbot, controller, *SPOT)
    qtbot.waitUntil(lambda: said(window).startswith("Not saved"), timeout=20000)
    assert "changed by another workstation meanwhile" in said(window)
    assert stored(core, view.id) == (52.50, 13.30)  # Bob's place stands
    with core.db.session() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "stop.position")
        ).all()
    assert actors == ["bob"]
    state = pick_state(qtbot, controller)
    assert not state["picking"] and state["pin"] is None
    day = window.routes_panel.controller.day
    assert day is not None  # the boards read the day again: Bob's place, Bob's route version
    qtbot.waitUntil(lambda: day_location(window, view.id) == (52.50, 13.30), timeout=20000)


def panel_menus(window: MainWindow) -> list[QMenu]:
    return list(window.routes_panel.findChildren(QMenu))


def day_location(window: MainWindow, stop_id: int) -> Any:
    day = window.routes_panel.controller.day
    return None if day is None else day.plan.stops[str(stop_id)].location


def said(window: MainWindow) -> str:
    """The last sentence Fix position on map said (the status bar forgets after a while)."""
    return str(window.position_fixer.last_message)


class RouteListener:
    """A driver's app: the retained route of one vehicle, as the broker hands it out."""

    def __init__(self, core: Core, vehicle_id: str) -> None:
        from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient

        live = core.live
        assert live is not None and live.client is not None
        base = live.client.settings
        self.routes: list[dict[str, Any]] = []
        self.client = TelemetryClient(
            MqttSettings(url=base.url, console_id="van", clean_session=True, prefix=base.prefix),
            self._on_message,
            subscriptions=[(live.client.topics.route(vehicle_id), 1)],
        )
        self.client.start()
        assert self.client.wait_connected(10)

    def _on_message(self, topic: str, payload: bytes, ack: object = None) -> None:
        if payload:
            self.routes.append(json.loads(payload))
        if callable(ack):
            ack()

    def place_of(self, order_ref: str) -> tuple[float, float] | None:
        for route in reversed(self.routes):
            for stop in route["stops"]:
                if stop["stop_id"] == order_ref:
                    return stop["lat"], stop["lon"]
        return None


def test_the_driver_and_the_other_desks_hear_of_the_new_place(
    qtbot: Any, sqlite_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    from test_route_board_live import Probe, open_core, shut

    core = open_core(sqlite_url, mqtt_url)
    probe, van = Probe(core), RouteListener(core, "V04")
    window = None
    try:
        window, controller = open_window(qtbot, core, tmp_path)
        board, view = select_last_stop(qtbot, window, "V04")
        start_with_keys(qtbot, window, board, controller)
        click_map(qtbot, controller, *SPOT)
        qtbot.waitUntil(lambda: stored(core, view.id) == SPOT, timeout=20000)
        qtbot.waitUntil(lambda: van.place_of(view.order_ref) == SPOT, timeout=15000)
        day = window.routes_panel.controller.day
        assert day is not None
        note = probe.wait_for(str(day.route_ids["V04"]))
        assert note["actor"] == core.user.id and note["version"] == day.db_versions["V04"]
        assert van.routes[-1]["version"] == day.db_versions["V04"]
    finally:
        probe.close()
        van.client.stop()
        shut(qtbot, window, core)


def test_a_viewer_is_told_at_once_and_no_pick_starts(
    qtbot: Any, sqlite_url: str, tmp_path: Path
) -> None:
    from dispatcher.users.desk import os_account

    core = Core(Settings(database_url=sqlite_url))
    with core.db.session() as session:
        fleet_repo.save_scenario(session, demo_day())
    desk = UserDesk(core.db)
    desk.login("owner")  # the first login: admin
    desk.login(os_account())  # this desk's login, then made a viewer
    desk.set_role("owner", os_account(), "viewer")
    try:
        window, controller = open_window(qtbot, core, tmp_path)
        board, view = select_last_stop(qtbot, window, "V01")
        qtbot.keyClick(board.table, Qt.Key.Key_P, CTRL_ALT)
        assert said(window).startswith("Not allowed — ")
        assert "viewer role and cannot fix where an order is on the map" in said(window)
        assert not window.position_fixer.picker.active
        assert not pick_state(qtbot, controller)["picking"]
        assert stored(core, view.id) == (view.lat, view.lon)
    finally:
        core.close()
