"""Every registered action of the main window, driven as a dispatcher drives it.

One real window over a small demo day (one per module: building it and loading the map is
the slow part) and one step per entry of the window's shortcut registry
(ui/dispatcher_ui/shortcuts.py): an action with a key is pressed on the keyboard, one without is
clicked in its menu, and each step asserts what the dispatcher sees — a row's status, a dialog's
text, the selection, the outbox, a dock. A registered action without a step fails
``test_every_registered_action_has_a_step``: new actions join by being registered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLineEdit,
    QMenu,
    QWidget,
)

from dispatcher.alerts.workflow import AlertService
from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.fleet.state import FleetChanged
from dispatcher.model.alerts import AlertKind, AlertStatus, Condition, Severity
from dispatcher.model.core import PositionReport
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.alert_repo import alert_store
from dispatcher.scenario.demo import demo_scenario
from dispatcher.users.desk import UserDesk
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.shortcuts import Entry

pytestmark = [pytest.mark.walkthrough, pytest.mark.gui]

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    path = tmp_path_factory.mktemp("walk") / "walk.sqlite3"
    c = build_core(Settings(database_url=f"sqlite:///{path}"), clock=FakeClock(T0))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_scenario(T0.date(), n_orders=40, n_vehicles=3))
    # The owner logged in first (admin); the desk's own login is then a dispatcher, whose
    # refusals the walk checks (supervisor-only actions).
    UserDesk(c.db).login("owner")
    yield c
    c.close()


@pytest.fixture(scope="module")
def window(qapp: Any, core: Core, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainWindow]:
    ini = tmp_path_factory.mktemp("walkui") / "ui.ini"
    w = MainWindow(core, QSettings(str(ini), QSettings.Format.IniFormat))
    w.resize(1400, 900)
    w.show()
    wait_until(lambda: not w.routes_loading)  # the routes are read off the GUI thread
    yield w
    w.close()
    w.deleteLater()


def wait_until(done: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Process events until ``done()`` (a module-scoped fixture has no qtbot)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


#: The late conditions the walk raised so far (a reconcile closes what it is not told about).
RAISED: list[Condition] = []


@dataclass
class Walk:
    """What a step gets: the window, the core, qtbot and the modal answerer."""

    window: MainWindow
    core: Core
    qtbot: Any
    answer: Callable[[Callable[[QWidget], None]], list[Any]]
    tmp: Path
    #: Where keys go unless a step says otherwise: the board of the stop selected last.
    focus: QWidget | None = None

    # -- driving ----------------------------------------------------------------------------
    def entry(self, entry_id: str) -> Entry:
        context, name = entry_id.split("/", 1)
        return self.window.shortcuts.find(context, name)

    def fire(self, entry_id: str, target: QWidget | None = None) -> None:
        """Press the entry's key (on ``target`` or a route board) or click it in its menu."""
        entry = self.entry(entry_id)
        if entry.keys:
            widget = target or self.focus or self.board("V01").table
            self.activate()
            widget.setFocus()
            combo = QKeySequence(entry.keys[0])[0]  # type: ignore[index]  # PySide6 stub: no []
            self.qtbot.keyClick(widget, combo.key(), combo.keyboardModifiers())
        else:
            assert entry.action is not None
            self.click_menu(entry.action)

    def click_menu(self, action: QAction) -> None:
        menu = owner_menu(self.window, action)
        assert menu is not None, f"{action.text()} is in no menu"
        self.activate()
        menu.popup(self.window.mapToGlobal(QPoint(40, 40)))
        self.qtbot.waitUntil(menu.isVisible)
        menu.setActiveAction(action)  # as the arrow keys would (geometry-free, so robust)
        self.qtbot.keyClick(menu, Qt.Key.Key_Return)
        self.qtbot.waitUntil(lambda: not menu.isVisible())

    def activate(self) -> None:
        self.window.activateWindow()
        self.qtbot.waitUntil(self.window.isActiveWindow)

    # -- looking ----------------------------------------------------------------------------
    def board(self, vehicle_id: str) -> Any:
        return self.window.routes_panel.boards[vehicle_id]

    def select_stop(self, vehicle_id: str, row: int) -> str:
        board = self.board(vehicle_id)
        self.focus = board.table
        board.table.setFocus()
        stop_id = board.model.stop_id(row)
        board.select_stops([stop_id])
        return str(stop_id)

    def route(self, vehicle_id: str) -> list[str]:
        return list(self.window.routes_panel.controller.route(vehicle_id))

    def plan_stop(self, stop_id: str) -> Any:
        day = self.window.routes_panel.controller.day
        assert day is not None
        return day.plan.stops[stop_id]

    def status(self) -> str:
        return self.window.statusBar().currentMessage()

    @property
    def queue(self) -> Any:
        return self.window.exceptions_panel

    def raise_alert(self, row: int) -> int:
        """A late alert about the ``row``-th stop of V02, selected in the queue; its id."""
        stop = self.core.load_routes()[1].stops[row]
        cond = Condition(
            AlertKind.LATE,
            f"stop:{stop.id}",
            Severity.HIGH,
            f"Stop {stop.id} late",
            sla_deadline=T0 + timedelta(minutes=30),
            vehicle_id="V02",
            stop_id=str(stop.id),
        )
        RAISED.append(cond)  # the rules see every condition raised so far, still true
        with alert_store(self.core.db) as store:
            service = AlertService(store, self.core.clock)
            service.reconcile(RAISED, [AlertKind.LATE])
            alert = next(a for a in store.list_alerts() if a.subject == f"stop:{stop.id}")
        assert alert.id is not None
        self.queue.reload(background=False)
        assert self.queue.select_alert(alert.id)
        self.queue.view.setFocus()
        return alert.id

    def alert_status(self, alert_id: int) -> AlertStatus:
        with alert_store(self.core.db) as store:
            return store.get(alert_id).status

    def saved(self) -> None:
        """Wait for the queue's save (a worker writes it; the row shows "saving…" meanwhile)."""
        self.qtbot.waitUntil(lambda: not self.queue.model.pending)

    def js(self, source: str) -> Any:
        box: list[Any] = []
        controller = self.window.map_controller
        controller.view.page().runJavaScript(source, 0, box.append)
        self.qtbot.waitUntil(lambda: bool(box), timeout=10000)
        return box[0]


def owner_menu(window: MainWindow, action: QAction) -> QMenu | None:
    stack = [a.menu() for a in window.menuBar().actions()]
    while stack:
        menu = stack.pop()
        if not isinstance(menu, QMenu):
            continue
        if action in menu.actions():
            return menu
        stack.extend(a.menu() for a in menu.actions() if a.menu() is not None)
    return None


def click_button(qtbot: Any, dialog: QWidget, which: QDialogButtonBox.StandardButton) -> None:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None, dialog
    qtbot.mouseClick(box.button(which), Qt.MouseButton.LeftButton)


OK = QDialogButtonBox.StandardButton.Ok
CANCEL = QDialogButtonBox.StandardButton.Cancel


def close(dialog: QWidget) -> None:
    dialog.close()


def reject(dialog: QWidget) -> None:
    assert isinstance(dialog, QDialog)
    dialog.reject()


def choose_file(path: Path) -> Callable[[QWidget], None]:
    def fill(dialog: QWidget) -> None:
        assert isinstance(dialog, QFileDialog)
        dialog.selectFile(str(path))
        dialog.accept()

    return fill


# -- the steps, by registry id -------------------------------------------------------------
Step = Callable[[Walk], None]
STEPS: dict[str, Step] = {}


def step(*entry_ids: str) -> Callable[[Step], Step]:
    def register(fn: Step) -> Step:
        for entry_id in entry_ids:
            STEPS[entry_id] = fn
        return fn

    return register


@step("window/Import orders")
def import_orders(w: Walk) -> None:
    seen = w.answer(reject)
    w.fire("window/Import orders")
    w.qtbot.waitUntil(lambda: bool(seen))
    assert seen[0].title == "Import orders"


@step("window/Reload")
def reload(w: Walk) -> None:
    w.window.stats_label.setText("")
    w.fire("window/Reload")
    w.qtbot.waitUntil(lambda: not w.window.routes_loading, timeout=15000)
    assert w.window.stats_label.text() == "3 routes · 40 stops"


@step(*(f"window/toggle {k} dock" for k in ("map", "routes", "exceptions", "messages", "kpis")))
@step("window/toggle fleet dock", "window/toggle timeline dock")
def toggle_docks(w: Walk) -> None:
    for key in ("map", "routes", "exceptions", "messages", "kpis", "fleet", "timeline"):
        dock = w.window.docks[key]
        before = dock.isHidden()
        w.fire(f"window/toggle {key} dock")
        assert dock.isHidden() is not before, key
        w.fire(f"window/toggle {key} dock")
        assert dock.isHidden() is before, key


@step("window/theme dark", "window/theme light")
def themes(w: Walk) -> None:
    for name in ("dark", "light"):
        w.fire(f"window/theme {name}")
        assert w.window.qsettings.value("ui/theme") == name


@step("window/Reset layout")
def reset_layout(w: Walk) -> None:
    w.window.docks["routes"].hide()
    w.fire("window/Reset layout")
    assert all(d.isVisible() for k, d in w.window.docks.items() if k != "history")


@step("window/Find stop")
def find_stop(w: Walk) -> None:
    w.fire("window/Find stop")
    w.qtbot.waitUntil(w.window.route_filter.hasFocus)


@step("window/Keyboard shortcuts")
def keyboard_help(w: Walk) -> None:
    seen = w.answer(close)
    w.fire("window/Keyboard shortcuts")
    w.qtbot.waitUntil(lambda: bool(seen))
    assert seen[0].title == "Keyboard shortcuts"
    for entry in w.window.shortcuts.entries:
        for key in entry.keys:
            assert key in seen[0].text, entry.id


@step("window/About Dispatcher")
def about(w: Walk) -> None:
    seen = w.answer(close)
    w.fire("window/About Dispatcher")
    w.qtbot.waitUntil(lambda: bool(seen))
    assert seen[0].title == "About Dispatcher" and "Dispatcher" in seen[0].text


def feed_positions(w: Walk) -> None:
    controller = w.window.map_controller
    w.qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
    fixes = [("V01", 52.55, 13.35), ("V02", 52.47, 13.45), ("V03", 52.50, 13.30)]
    reports = [
        (PositionReport(vid, T0, lat, lon, speed_kmh=25.0, heading_deg=45.0), False)
        for vid, lat, lon in fixes
    ]
    changed, state_changed = controller.fleet.apply_positions(reports, T0)
    w.core.bus.publish(FleetChanged(frozenset(changed), frozenset(state_changed)))

    def drawn() -> bool:
        controller.tick()
        return bool(w.js("DispatcherMap.vehicles.size === 3"))

    w.qtbot.waitUntil(drawn, timeout=15000)


def map_centre_in_berlin(w: Walk) -> bool:
    lat = w.js("DispatcherMap.map.getCenter().lat")
    return 52.3 < float(lat) < 52.7


@step("window/Fit to fleet", "window/Show selected route", "window/Follow selected vehicle")
def map_actions(w: Walk) -> None:
    feed_positions(w)
    for entry_id in ("window/Fit to fleet", "window/Show selected route"):
        w.window.selection.select_vehicle("V02", source="test")
        w.js(
            "DispatcherMap.autoFit = false;"
            " DispatcherMap.map.setView([48.1, 11.6], 10, {animate: false}); 1"
        )
        w.fire(entry_id)
        w.qtbot.waitUntil(lambda: map_centre_in_berlin(w), timeout=10000)
    w.window.map_controller.tick()
    w.qtbot.waitUntil(lambda: w.js("DispatcherMap.selected") == "V02", timeout=10000)
    w.fire("window/Follow selected vehicle")
    w.qtbot.waitUntil(lambda: w.js("DispatcherMap.follow") is True, timeout=10000)


@step("window/Export map as HTML")
def export_map(w: Walk) -> None:
    target = w.tmp / "routes.html"
    w.answer(choose_file(target))
    w.fire("window/Export map as HTML")
    w.qtbot.waitUntil(target.exists, timeout=20000)
    w.qtbot.waitUntil(lambda: "exported to" in w.status(), timeout=20000)


def stored_position(w: Walk, stop_id: str) -> tuple[float, float]:
    from dispatcher.persistence.orm import Stop

    with w.core.db.session() as session:
        stop = session.get(Stop, int(stop_id))
        assert stop is not None
        return stop.lat, stop.lon


@step("window/Fix position on map", "map pick/cancel", "window/Undo position fix")
def fix_position(w: Walk) -> None:
    fixer = w.window.position_fixer
    w.qtbot.waitUntil(lambda: w.window.map_controller.view.ready, timeout=30000)
    sid = w.select_stop("V02", 3)
    before = stored_position(w, sid)
    w.fire("window/Fix position on map")
    w.qtbot.waitUntil(lambda: w.js("DispatcherMap.picking") is True, timeout=15000)
    w.fire("map pick/cancel")
    w.qtbot.waitUntil(lambda: w.js("DispatcherMap.picking") is False, timeout=10000)
    assert "not changed" in fixer.last_message
    w.fire("window/Fix position on map")
    w.qtbot.waitUntil(lambda: w.js("DispatcherMap.picking") is True, timeout=15000)
    w.js("DispatcherMap.map.fire('click', {latlng: L.latLng(52.4711, 13.5212)}); 1")
    w.qtbot.waitUntil(lambda: stored_position(w, sid) == (52.4711, 13.5212), timeout=20000)
    w.qtbot.waitUntil(lambda: not fixer.busy, timeout=10000)
    w.fire("window/Undo position fix")
    w.qtbot.waitUntil(lambda: stored_position(w, sid) == before, timeout=20000)


@step("exception queue/acknowledge")
def acknowledge(w: Walk) -> None:
    alert_id = w.raise_alert(0)
    w.fire("exception queue/acknowledge", w.queue.view)
    w.saved()
    assert w.alert_status(alert_id) is AlertStatus.ACKNOWLEDGED


@step("exception queue/take")
def take(w: Walk) -> None:
    alert_id = w.raise_alert(1)
    w.fire("exception queue/take", w.queue.view)
    w.saved()
    assert w.alert_status(alert_id) is AlertStatus.ASSIGNED


@step("exception queue/escalate")
def escalate(w: Walk) -> None:
    alert_id = w.raise_alert(2)

    def fill(d: QWidget) -> None:
        w.qtbot.keyClicks(d.focusWidget(), "angry")
        click_button(w.qtbot, d, OK)

    w.answer(fill)
    w.fire("exception queue/escalate", w.queue.view)
    w.saved()
    assert w.alert_status(alert_id) is AlertStatus.ESCALATED


@step("exception queue/resolve")
def resolve(w: Walk) -> None:
    alert_id = w.raise_alert(3)
    seen = w.answer(lambda d: click_button(w.qtbot, d, OK))
    w.fire("exception queue/resolve", w.queue.view)
    w.saved()
    assert seen and seen[0].title == f"Resolve exception #{alert_id}"
    assert w.alert_status(alert_id) is AlertStatus.RESOLVED, w.queue.last_error


@step("exception queue/dismiss")
def dismiss(w: Walk) -> None:
    alert_id = w.raise_alert(4)
    w.answer(lambda d: click_button(w.qtbot, d, OK))
    w.fire("exception queue/dismiss", w.queue.view)
    w.saved()
    assert w.queue.last_error == f"only a supervisor can dismiss exception #{alert_id}"
    assert w.alert_status(alert_id) is AlertStatus.NEW


def customer_asks(w: Walk, row: int) -> tuple[int, int]:
    """The customer of V03's ``row``-th stop (negative: from the end, the steps above use the
    first ones) says "not home today" on the tracking page; the request's exception is
    selected in the queue. Returns (request id, stop id)."""
    from dispatcher.web.requests import customer_requests

    stop = w.core.load_routes()[2].stops[row]
    request = customer_requests(w.core).submit_not_home(stop.id, stop.order_ref)
    w.queue.reload(background=False)
    assert request.id is not None
    with alert_store(w.core.db) as store:
        alert = next(a for a in store.list_alerts() if a.subject == f"request:{request.id}")
    assert alert.id is not None and w.queue.select_alert(alert.id)
    w.queue.view.setFocus()
    return request.id, stop.id


@step("exception queue/apply_request")
def apply_customer_request(w: Walk) -> None:
    from dispatcher.messaging.service import MessagingService
    from dispatcher.persistence.web_repo import get_request

    request_id, stop_id = customer_asks(w, -1)
    w.fire("exception queue/apply_request", w.queue.view)
    w.qtbot.waitUntil(lambda: "Applied" in w.queue.message.text(), timeout=15000)
    request = get_request(w.core.db, request_id)
    assert request is not None and request.status == "applied"
    service = w.core.service(MessagingService)
    ref = service.order_ref_of(stop_id)
    assert any("come back on" in m.body for m in service.history(ref))


@step("exception queue/decline_request")
def decline_customer_request(w: Walk) -> None:
    from dispatcher.persistence.web_repo import get_request

    request_id, _ = customer_asks(w, -2)
    w.answer(lambda d: click_button(w.qtbot, d, OK))
    w.fire("exception queue/decline_request", w.queue.view)
    w.qtbot.waitUntil(lambda: "Declined" in w.queue.message.text(), timeout=15000)
    request = get_request(w.core.db, request_id)
    assert request is not None and request.status == "declined"


@step("exception queue/message")
def message_from_queue(w: Walk) -> None:
    w.raise_alert(5)
    w.fire("exception queue/message", w.queue.view)
    w.qtbot.waitUntil(lambda: "message queued" in w.status(), timeout=15000)


@step("exception queue/map", "exception queue/route")
def show_on_map_and_route(w: Walk) -> None:
    alert_id = w.raise_alert(6)
    w.window.docks["map"].hide()
    w.fire("exception queue/map", w.queue.view)
    assert w.window.docks["map"].isVisible()
    assert w.window.selection.current.alert_id == alert_id
    w.window.docks["routes"].hide()
    w.fire("exception queue/route", w.queue.view)
    assert w.window.docks["routes"].isVisible()
    stop = str(w.window.selection.current.stop_id)
    assert w.board("V02").selected_stop_ids() == [stop]


@step("window/Supervisor view")
def supervisor(w: Walk) -> None:
    seen = w.answer(close)
    w.fire("window/Supervisor view")
    w.qtbot.waitUntil(lambda: bool(seen))
    assert "the supervisor view is for supervisors" in seen[0].text


@step("window/Sort by priority")
def sort_by_priority(w: Walk) -> None:
    w.queue.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert w.queue.view.horizontalHeader().isSortIndicatorShown()
    w.fire("window/Sort by priority")
    assert not w.queue.view.horizontalHeader().isSortIndicatorShown()


@step("window/Focus the queue")
def focus_queue(w: Walk) -> None:
    w.fire("window/Focus the queue")
    w.qtbot.waitUntil(w.queue.view.hasFocus)


@step("window/Mute new-critical sound")
def mute(w: Walk) -> None:
    w.fire("window/Mute new-critical sound")
    assert w.window.qsettings.value("exceptions/muted") == "true"
    w.fire("window/Mute new-critical sound")
    assert w.window.qsettings.value("exceptions/muted") == "false"


@step("window/Message customer of selected stop")
def message_customer(w: Walk) -> None:
    w.select_stop("V03", 0)
    w.fire("window/Message customer of selected stop")
    w.qtbot.waitUntil(lambda: "message queued" in w.status(), timeout=15000)
    panel = w.window.messages_panel
    panel.tick()
    w.qtbot.waitUntil(lambda: panel.proxy.rowCount() > 0, timeout=15000)


@step("window/Notify route customers whose ETA moved")
def notify_route(w: Walk) -> None:
    w.select_stop("V03", 1)
    seen = w.answer(lambda d: click_button(w.qtbot, d, OK))
    w.fire("window/Notify route customers whose ETA moved")
    assert seen and seen[0].title == "Notify customers"
    w.qtbot.waitUntil(lambda: "customers with an ETA moved" in w.status(), timeout=15000)


@step("window/Message history of selected stop", "window/Show outbox", "window/Edit templates")
def message_views(w: Walk) -> None:
    panel = w.window.messages_panel
    w.select_stop("V03", 0)
    w.window.docks["kpis"].raise_()
    w.fire("window/Message history of selected stop")
    assert panel.stop_only.isChecked() and w.window.docks["messages"].isVisible()
    w.window.docks["kpis"].raise_()
    w.fire("window/Show outbox")
    assert w.window.docks["messages"].isVisible()
    w.fire("window/Edit templates")
    assert panel.tabs.currentIndex() == 1


@step("window/Show timeline")
def show_timeline(w: Walk) -> None:
    w.window.docks["timeline"].hide()
    w.fire("window/Show timeline")
    assert w.window.docks["timeline"].isVisible()


@step("window/Move stops up", "window/Move stops down")
@step("window/Undo route change", "window/Redo route change")
def move_undo_redo(w: Walk) -> None:
    before = w.route("V01")
    w.select_stop("V01", 1)
    w.fire("window/Move stops down")
    moved = w.route("V01")
    assert moved[2] == before[1] and moved[1] == before[2]
    w.fire("window/Move stops up")
    assert w.route("V01") == before
    w.fire("window/Undo route change")
    assert w.route("V01") == moved
    w.fire("window/Redo route change")
    assert w.route("V01") == before


@step("window/Move stops to vehicle")
def move_to_vehicle(w: Walk) -> None:
    sid = w.select_stop("V01", 0)

    def pick(dialog: Any) -> None:
        combo = dialog.findChild(__import__("PySide6.QtWidgets").QtWidgets.QComboBox)
        combo.setCurrentIndex(combo.findText("V02"))
        click_button(w.qtbot, dialog, OK)

    seen = w.answer(pick)
    w.fire("window/Move stops to vehicle")
    assert seen and seen[0].title == "Move to vehicle"
    assert sid in w.route("V02") and sid not in w.route("V01")


@step(
    "window/Pin / unpin", "window/Keep on vehicle / release", "window/Lock order of selected stops"
)
def locks(w: Walk) -> None:
    sid = w.select_stop("V03", 2)
    pinned = w.plan_stop(sid).pinned
    w.fire("window/Pin / unpin")
    assert w.plan_stop(sid).pinned is not pinned
    sid = w.select_stop("V03", 2)
    keep = w.plan_stop(sid).keep_vehicle
    w.fire("window/Keep on vehicle / release")
    assert w.plan_stop(sid).keep_vehicle is not keep
    sid = w.select_stop("V03", 3)
    w.fire("window/Lock order of selected stops")
    assert w.plan_stop(sid).order_group == f"g{sid}"


@step("window/Best place for selected stop")
def best_place(w: Walk) -> None:
    w.select_stop("V03", 4)
    w.fire("window/Best place for selected stop")
    dialog = w.window.routes_panel.last_insert_dialog
    assert dialog is not None and dialog.isVisible()
    w.qtbot.waitUntil(lambda: dialog.table.rowCount() > 0, timeout=30000)
    dialog.reject()


@step("window/Optimize route", "window/Optimize fleet")
def optimize(w: Walk) -> None:
    panel = w.window.routes_panel
    for entry_id in ("window/Optimize route", "window/Optimize fleet"):
        w.select_stop("V01", 0)
        w.fire(entry_id)
        dialog = panel.last_optimize_dialog
        assert dialog is not None and dialog.isVisible()
        w.qtbot.waitUntil(lambda d=dialog: d.outcome is not None or d.error, timeout=60000)
        assert dialog.error is None
        dialog.reject()


@step("window/Replay", "replay bar/play")
def replay(w: Walk) -> None:
    w.fire("window/Replay")
    assert w.window.docks["history"].isVisible()
    bar = w.window.replay_bar
    bar.load()
    w.qtbot.waitUntil(lambda: bar.player is not None, timeout=15000)
    player = bar.player
    assert player is not None
    w.fire("replay bar/play", bar.play_button)
    assert player.playing
    w.fire("replay bar/play", bar.play_button)
    assert not player.playing


@step("window/Replay around selected exception")
def replay_around(w: Walk) -> None:
    w.raise_alert(7)
    rect = w.queue.view.visualRect(w.queue.view.currentIndex())
    w.qtbot.mouseClick(w.queue.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    w.window.docks["history"].hide()
    w.fire("window/Replay around selected exception")
    assert "Select an exception first" not in w.status()
    # the exception's time is read off the GUI thread; then the replay opens around it
    w.qtbot.waitUntil(w.window.docks["history"].isVisible, timeout=10000)


@step("window/Proof of visit")
def proof_of_visit(w: Walk) -> None:
    from dispatcher_ui.history.visit_dialog import ProofOfVisitDialog

    stop_id = w.select_stop("V03", 0)
    w.fire("window/Proof of visit")
    dialogs = [d for d in w.window.findChildren(ProofOfVisitDialog) if d.isVisible()]
    assert dialogs
    # "Use selected stop" takes the place from the boards' day (no database read)
    day = w.window.routes_panel.controller.day
    assert day is not None
    stop = day.stops[stop_id]
    w.qtbot.mouseClick(dialogs[-1].from_stop, Qt.MouseButton.LeftButton)
    assert dialogs[-1].lat.value() == pytest.approx(stop.lat, abs=1e-6)
    assert dialogs[-1].lon.value() == pytest.approx(stop.lon, abs=1e-6)
    for dialog in dialogs:
        dialog.close()


@step("window/Export day report")
def export_day_report(w: Walk) -> None:
    folder = w.tmp / "report"
    folder.mkdir()
    w.answer(choose_file(folder))
    w.fire("window/Export day report")
    w.qtbot.waitUntil(lambda: hasattr(w.window, "last_day_report"), timeout=30000)
    csv_path, map_path = w.window.last_day_report
    assert csv_path.exists() and map_path.exists()


@step("window/KPI trends")
def kpi_trends(w: Walk) -> None:
    from dispatcher_ui.kpi.period_view import PeriodDialog

    w.fire("window/KPI trends")
    w.qtbot.waitUntil(lambda: isinstance(getattr(w.window, "period_dialog", None), PeriodDialog))
    dialog = w.window.period_dialog
    assert isinstance(dialog, PeriodDialog)
    w.qtbot.waitUntil(lambda: dialog.period is not None and not dialog.loading, timeout=30000)
    assert "3 routes" in dialog.status.text()
    dialog.group.setCurrentText("Vehicle")  # reloads grouped by vehicle
    w.qtbot.waitUntil(lambda: not dialog.loading and dialog.table.rowCount() == 3, timeout=30000)
    folder = w.tmp / "kpi"
    folder.mkdir()
    w.answer(choose_file(folder))
    w.qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    w.qtbot.waitUntil(lambda: hasattr(dialog, "last_export"), timeout=30000)
    assert all(p.exists() for p in dialog.last_export)
    dialog.close()


@step("window/New order")
def new_order(w: Walk) -> None:
    from dispatcher_ui.orders.new_order_dialog import NewOrderDialog

    w.fire("window/New order")
    w.qtbot.waitUntil(lambda: getattr(w.window, "last_new_order_dialog", None) is not None)
    dialog = w.window.last_new_order_dialog
    assert isinstance(dialog, NewOrderDialog) and dialog.isVisible()
    for name, text in (("order_id", "WALK-1"), ("lat", "52.51"), ("lon", "13.39")):
        dialog.fields[name].clear()
        w.qtbot.keyClicks(dialog.fields[name], text)
    dialog.urgent.setChecked(False)
    click_button(w.qtbot, dialog, QDialogButtonBox.StandardButton.Save)
    w.qtbot.waitUntil(lambda: dialog.created is not None, timeout=15000)
    assert "Order WALK-1 created" in w.status()
    assert any(s.order_ref == "WALK-1" for r in w.core.load_routes() for s in r.stops)


@step("window/First-run assistant")
def first_run_assistant(w: Walk) -> None:
    from PySide6.QtWidgets import QWizard

    w.fire("window/First-run assistant")
    w.qtbot.waitUntil(lambda: getattr(w.window, "first_run_wizard", None) is not None)
    wizard = w.window.first_run_wizard
    assert wizard is not None
    w.qtbot.waitUntil(wizard.isVisible)
    assert wizard.currentPage().title() == "Your company"
    cancel = wizard.button(QWizard.WizardButton.CancelButton)
    assert cancel.text() == "Skip for now"
    w.qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    w.qtbot.waitUntil(lambda: not wizard.isVisible())


@step("window/previous day", "window/next day", "window/back to today")
def day_picker(w: Walk) -> None:
    shown = w.window.service_day
    assert shown is not None
    w.fire("window/previous day", target=w.window.route_filter)
    assert w.window.service_day == shown - timedelta(days=1)
    w.fire("window/next day", target=w.window.route_filter)
    assert w.window.service_day == shown
    w.fire("window/next day", target=w.window.route_filter)
    w.fire("window/back to today", target=w.window.route_filter)
    assert w.window.service_day == w.core.today()


@step("window/Fleet setup")
def fleet_setup(w: Walk) -> None:
    w.fire("window/Fleet setup")
    w.qtbot.waitUntil(lambda: getattr(w.window, "fleet_setup_dialog", None) is not None)
    dialog = w.window.fleet_setup_dialog
    w.qtbot.waitUntil(dialog.isVisible)
    w.qtbot.waitUntil(lambda: not any(t.busy for t in dialog.record_tabs.values()), timeout=10000)
    assert dialog.windowTitle().startswith("Fleet setup")
    dialog.close()


@step("window/Set up a driver's phone")
def phone_setup(w: Walk) -> None:
    from dispatcher_ui.devices.phone_setup_dialog import PhoneSetupDialog

    w.fire("window/Set up a driver's phone")
    w.qtbot.waitUntil(lambda: w.window.findChild(PhoneSetupDialog) is not None)
    dialog = w.window.findChild(PhoneSetupDialog)
    assert dialog is not None
    w.qtbot.waitUntil(dialog.isVisible)
    assert dialog.windowTitle() == "Set up a driver's phone"
    dialog.close()


@step("window/Driver app")
def driver_desk(w: Walk) -> None:
    from dispatcher_ui.driver.desk_dialog import DriverDeskDialog

    w.fire("window/Driver app")
    w.qtbot.waitUntil(lambda: w.window.findChild(DriverDeskDialog) is not None)
    dialog = w.window.findChild(DriverDeskDialog)
    assert dialog is not None
    w.qtbot.waitUntil(lambda: dialog.isVisible() and dialog.vehicle_box.count() > 0)
    w.qtbot.waitUntil(lambda: dialog.busy == 0)
    assert dialog.windowTitle() == "Driver app"
    dialog.close()


@step("window/compact route boards")
def compact_boards(w: Walk) -> None:
    panel = w.window.routes_panel
    before = panel.compact
    w.fire("window/compact route boards")
    assert panel.compact is not before
    assert w.window.qsettings.value("routes/compact_boards", type=bool) is (not before)
    w.fire("window/compact route boards")
    assert panel.compact is before


@step("window/Devices and quarantine")
def devices_dock(w: Walk) -> None:
    dock = w.window.docks["devices"]
    dock.hide()
    w.fire("window/Devices and quarantine")
    w.qtbot.waitUntil(dock.isVisible)
    panel = w.window.devices_panel
    assert panel.isVisible()
    dock.hide()


@step("window/Device settings")
def device_settings(w: Walk) -> None:
    from dispatcher_ui.devices.settings_dialog import DeviceSettingsDialog

    w.window.device_settings_dialog = None
    w.fire("window/Device settings")
    w.qtbot.waitUntil(
        lambda: getattr(w.window, "device_settings_dialog", None) is not None, timeout=10000
    )
    dialog = w.window.device_settings_dialog
    assert dialog is not None
    assert isinstance(dialog, DeviceSettingsDialog)
    w.qtbot.waitUntil(dialog.isVisible)
    # the desk's user is a dispatcher: every setting shown, none editable
    assert not dialog.editable and "may look" in dialog.header.text()
    topics = dialog.editors["telemetry.traccar_topics"]
    assert isinstance(topics, QLineEdit) and topics.text() == "positions, traccar/positions"
    dialog.close()


@step("window/Where is my order")
def where_is_my_order(w: Walk) -> None:
    from dispatcher_ui.support.order_search import OrderSearchDialog

    w.fire("window/Where is my order", target=w.window.route_filter)
    w.qtbot.waitUntil(
        lambda: isinstance(getattr(w.window, "order_search_dialog", None), OrderSearchDialog),
        timeout=10000,
    )
    dialog = w.window.order_search_dialog
    w.qtbot.waitUntil(dialog.query.hasFocus)
    w.qtbot.keyClicks(dialog.query, "ORD-20261120-0001")
    w.qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    w.qtbot.waitUntil(lambda: dialog.shown is not None, timeout=10000)
    assert dialog.shown is not None
    assert dialog.shown.facts.row.order_ref == "ORD-20261120-0001"
    dialog.close()


@step("window/Flight recorder")
def flight_recorder(w: Walk) -> None:
    from dispatcher_ui.support.flight_recorder import FlightRecorderDialog

    w.fire("window/Flight recorder", target=w.window.route_filter)
    w.qtbot.waitUntil(
        lambda: isinstance(getattr(w.window, "flight_recorder_dialog", None), FlightRecorderDialog)
    )
    dialog = w.window.flight_recorder_dialog
    w.qtbot.waitUntil(lambda: dialog.recording is not None, timeout=10000)
    dialog.slider.setFocus()
    w.qtbot.keyClick(dialog.slider, Qt.Key.Key_PageUp)
    assert dialog.state is not None and dialog.state.at.minute == 15
    dialog.close()


@step("window/Shift handover")
def shift_handover(w: Walk) -> None:
    from dispatcher_ui.support.handover_dialog import HandoverDialog

    w.fire("window/Shift handover")
    w.qtbot.waitUntil(
        lambda: isinstance(getattr(w.window, "handover_dialog", None), HandoverDialog),
        timeout=10000,
    )
    dialog = w.window.handover_dialog
    w.qtbot.waitUntil(lambda: not dialog.busy)
    w.qtbot.mouseClick(dialog.hand_over_button, Qt.MouseButton.LeftButton)
    w.qtbot.waitUntil(lambda: dialog.list.count() == 1 and not dialog.busy, timeout=10000)
    assert "NOT TAKEN OVER" in dialog.list.item(0).text()
    dialog.close()


@step("window/Quit")
def quit_(w: Walk) -> None:
    w.fire("window/Quit")
    w.qtbot.waitUntil(lambda: not w.window.isVisible())


#: Each step once (one may cover several entries), Quit last: it closes the window.
WALK = [fn for fn in dict.fromkeys(STEPS.values()) if fn is not quit_] + [quit_]


@pytest.fixture
def walk(qtbot: Any, window: MainWindow, core: Core, answer_modal: Any, tmp_path: Path) -> Walk:
    return Walk(window, core, qtbot, answer_modal, tmp_path)


def test_every_registered_action_has_a_step(window: MainWindow) -> None:
    missing = [e.id for e in window.shortcuts.entries if e.id not in STEPS]
    assert missing == [], "add a walkthrough step for each new action"


def test_every_menu_action_of_the_window_is_registered(window: MainWindow) -> None:
    registered = {id(e.action) for e in window.shortcuts.entries if e.action is not None}
    stack = list(window.menuBar().actions())
    unregistered = []
    while stack:
        action = stack.pop()
        menu = action.menu()
        if isinstance(menu, QMenu):
            stack.extend(menu.actions())
        elif not action.isSeparator() and id(action) not in registered:
            unregistered.append(action.text())
    assert unregistered == []


@pytest.mark.parametrize("walk_step", WALK, ids=lambda fn: fn.__name__)
def test_walk(walk_step: Step, walk: Walk) -> None:
    QApplication.processEvents()
    walk_step(walk)
