"""Route boards stay current without F5: drivers' progress, other workstations, lost databases.

The boards run in the real main window over the demo day. Drivers' events are written by the
real telemetry sink, another workstation is a second MQTT client on the real broker saving
through the same repository, and a database "goes away" by being dropped under the console.
"""

from __future__ import annotations

import getpass
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import QSettings, Qt, QThreadPool
from routes_wait import wait_for_routes
from sqlalchemy import select
from sqlalchemy.engine import make_url
from test_route_board import show_active

from dispatcher.alerts.sync import AlertsSync, Election, sync_topic
from dispatcher.app import LiveOptions, build_core
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.events import ConsoleNote, EventBus
from dispatcher.model.core import DeliveryEventKind, EventReport, StopStatus
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import AuditEntry
from dispatcher.persistence.telemetry_repo import SqlTelemetrySink
from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.board_model import Column
from dispatcher_ui.routes.panel import RoutesPanel

WAIT = {"timeout": 15000}


def open_core(url: str, mqtt_url: str | None = None) -> Core:
    settings = Settings(database_url=url)
    if mqtt_url is not None:
        settings.broker.url, settings.broker.prefix = mqtt_url, f"t{uuid.uuid4().hex[:8]}"
        settings.broker.client_id = f"c-{uuid.uuid4().hex[:8]}"

    def seed(core: Core) -> None:
        with core.db.session() as session:
            if not fleet_repo.count_stops(session):
                fleet_repo.save_scenario(session, demo_day(DAY))

    # The console's services: route notes between consoles ride on the alerts sync.
    core = build_core(settings, live=None if mqtt_url is None else LiveOptions(), prepare=seed)
    if mqtt_url is not None:
        live = core.live
        assert live is not None and live.client is not None and live.client.wait_connected(10)
    return core


@pytest.fixture
def core(sqlite_url: str) -> Iterator[Core]:
    c = open_core(sqlite_url)
    yield c
    c.close()


@pytest.fixture
def window(qtbot, core: Core, tmp_path: Path) -> Iterator[MainWindow]:
    w = open_window(qtbot, core, tmp_path)
    yield w
    close_window(qtbot, w)
    drain(qtbot)  # the views' background reads answer while the window exists


def open_window(qtbot, core: Core, tmp_path: Path) -> MainWindow:
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    wait_for_routes(qtbot, w)
    return w


def shut(qtbot, window: MainWindow | None, core: Core) -> None:
    """Close the window (its tick stops) and the core, then let every background read the
    views started answer while the window still exists (qtbot deletes it after the test)."""
    if window is not None:
        close_window(qtbot, window)
    core.close()
    drain(qtbot)


def close_window(qtbot, window: MainWindow) -> None:
    """Close the window; its views stop reading in the background (``close_hooks``)."""
    window.close()


def drain(qtbot) -> None:
    """Wait until no background read runs and every answer was delivered (a view may start
    another read from an answer, so repeat until the pool stays idle)."""
    pool = QThreadPool.globalInstance()
    for _ in range(20):
        pool.waitForDone(10000)
        qtbot.wait(20)
        if pool.activeThreadCount() == 0:
            return


def panel_of(window: MainWindow) -> RoutesPanel:
    panel = window.routes_panel
    assert isinstance(panel, RoutesPanel)
    return panel


def delivered(core: Core, vehicle_id: str, order_ref: str) -> None:
    """What the telemetry writer stores when a driver's app reports arrival and delivery."""
    events = [
        EventReport(
            vehicle_id,
            utc(10, minute),
            kind,
            f"{order_ref}-{kind}",
            stop_id=order_ref,
        )
        for minute, kind in ((12, DeliveryEventKind.ARRIVED), (15, DeliveryEventKind.DELIVERED))
    ]
    SqlTelemetrySink(core.db).write_events(events)


def test_a_delivery_in_the_database_shows_after_a_tick_and_the_undo_history_stays(
    qtbot,
    core: Core,
    window: MainWindow,
) -> None:
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None and c.undo_stack is not None
    route = list(c.day.plan.routes["V04"])
    assert c.move([route[5]], "V04", 0)  # the dispatcher sends the driver there first
    assert c.move([route[8]], "V04", 3)
    qtbot.waitUntil(lambda: not c.saving)  # saved in the background
    generation = c.generation
    board = panel.boards["V04"]
    sid = route[5]
    panel.live.progress_every_s = 0.0

    delivered(core, "V04", c.day.stops[sid].order_ref)  # ... and the driver did it
    with qtbot.waitSignal(c.progressed, timeout=10000) as got:
        window.tick()

    assert got.args == [[sid]]
    assert c.generation == generation  # merged in place, not reloaded
    row = board.model.row_of(sid)
    assert board.model.index(row, Column.STATUS).data() == "done"
    assert board.model.index(row, Column.ETA).data() == "10:12"  # actual arrival, Berlin time
    assert board.model.index(row + 1, Column.STATUS).data() == "next"
    c.undo()  # the second move does not touch the delivered stop: undone as usual
    assert c.day.plan.routes["V04"].index(route[8]) != 3
    qtbot.waitUntil(lambda: not c.saving)
    c.undo()  # the first would move the delivered stop back: refused, history kept
    text = panel.change_label.text()
    assert f"stop {c.day.stops[sid].order_ref} is done now; undoing would move it" in text
    assert c.undo_stack.can_undo and c.day.plan.routes["V04"][0] == sid
    assert c.day.plan.stops[sid].status is StopStatus.DONE


def test_an_unreachable_database_gives_messages_and_takes_the_edit_back(
    qtbot,
    pg_url: str,
    tmp_path: Path,
) -> None:
    core = open_core(pg_url)
    window = None
    try:
        window = open_window(qtbot, core, tmp_path)
        panel = panel_of(window)
        c = panel.controller
        assert c.day is not None and c.undo_stack is not None
        route = list(c.day.plan.routes["V02"])
        drop_database(pg_url)  # the server loses the database under the running console

        assert c.move([route[4]], "V02", 0)  # shown at once, "saving…" until refused
        assert c.day.plan.routes["V02"][0] == route[4] and panel.saving_label.isVisibleTo(panel)
        qtbot.waitUntil(lambda: not c.saving, timeout=20000)

        text = panel.change_label.text()
        assert text.startswith("Not saved — Cannot open the database")
        assert "taken back; Redo (Ctrl+Shift+Z) tries again" in text
        assert c.day.plan.routes["V02"] == route  # the boards show what is stored
        assert panel.boards["V02"].model.stop_id(0) == route[0]
        assert c.undo_stack.can_redo and not c.undo_stack.can_undo
        assert c.redo()  # still away: taken back again, nothing lost, no crash
        qtbot.waitUntil(lambda: not c.saving, timeout=20000)
        assert c.undo_stack.can_redo and "taken back" in panel.change_label.text()
        assert c.day.plan.routes["V02"] == route
        with qtbot.waitSignal(c.message, timeout=10000) as got:
            panel.live.poll_progress(force=True)
        assert got.args[0].startswith("Live stop status paused — the database cannot be reached")
        assert not c.load()  # F5
        assert "Routes not loaded" in panel.change_label.text()
        assert c.day.plan.routes["V02"] == route
    finally:
        shut(qtbot, window, core)


def drop_database(url: str) -> None:
    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{u.database}" WITH (FORCE)')


# -- other workstations -------------------------------------------------------------------


def test_a_route_note_reaches_the_bus_unless_it_is_our_own() -> None:
    """The alerts sync is the one listener of the sync topic; it hands route notes on."""
    bus = EventBus()
    heard: list[ConsoleNote] = []
    bus.subscribe(ConsoleNote, heard.append)
    sync = AlertsSync(bus, Election("console-me", 0), prefix="fleet")
    note = {"v": 1, "entity": "route", "id": "7", "version": 4}
    sync.on_message(sync_topic("fleet"), json.dumps(note | {"console_id": "console-me"}).encode())
    sync.on_message(sync_topic("fleet"), json.dumps(note | {"console_id": "desk-2"}).encode())
    sync.on_message(
        sync_topic("fleet"),
        json.dumps(note | {"console_id": "desk-3", "actor": "\u202eerika\n" + "x" * 200}).encode(),
    )
    sync.tick()
    assert heard == [
        ConsoleNote("route", "7", 4, "desk-2"),
        ConsoleNote("route", "7", 4, "desk-3", "erika" + "x" * 75),  # printable, bounded
    ]


def test_notes_for_versions_already_shown_do_not_reload(
    qtbot, core: Core, window: MainWindow
) -> None:
    c = panel_of(window).controller
    assert c.day is not None and c.undo_stack is not None
    assert c.move([c.day.plan.routes["V03"][4]], "V03", 1)
    qtbot.waitUntil(lambda: not c.saving)
    generation = c.generation
    route_id, version = c.day.route_ids["V03"], c.day.db_versions["V03"]
    core.bus.publish(ConsoleNote("route", str(route_id), version, "desk-2"))  # e.g. our echo
    core.bus.publish(ConsoleNote("alert", str(route_id), version + 5, "desk-2"))
    assert c.generation == generation and c.undo_stack.can_undo


class Desk2:
    """Another workstation: saves through the repository, then announces it on the broker."""

    def __init__(self, core: Core) -> None:
        self.core = core
        live = core.live
        assert live is not None and live.client is not None
        base = live.client.settings
        self.client = TelemetryClient(
            MqttSettings(url=base.url, console_id="desk-2", clean_session=True, prefix=base.prefix),
            lambda *_: None,
        )
        self.client.start()
        assert self.client.wait_connected(10)

    def reverse(self, vehicle_id: str, actor: str = "erika") -> list[str]:
        with self.core.db.session() as session:
            route = {r.vehicle_id: r for r in fleet_repo.load_routes(session, DAY)}[vehicle_id]
            ids = [s.id for s in reversed(route.stops)]
            saved = save_as_desk2(
                session,
                DAY,
                [
                    fleet_repo.RouteWrite(
                        vehicle_id, route.version, tuple(fleet_repo.StopWrite(s) for s in ids)
                    )
                ],
                actor=actor,
            )
        route_id, version = saved[vehicle_id]
        note = {"entity": "route", "id": str(route_id), "version": version, "actor": actor}
        self.client.publish_sync(note).wait_for_publish(5)
        return [str(s) for s in ids]


def test_another_consoles_route_change_reloads_the_boards_with_a_warning(
    qtbot,
    sqlite_url: str,
    mqtt_url: str,
    tmp_path: Path,
) -> None:
    core = open_core(sqlite_url, mqtt_url)
    desk2 = Desk2(core)
    probe = Probe(core)
    window = None
    try:
        window = open_window(qtbot, core, tmp_path)
        panel = panel_of(window)
        c = panel.controller
        assert c.day is not None
        assert c.move([c.day.plan.routes["V05"][6]], "V05", 2)  # our history now holds V05
        qtbot.waitUntil(lambda: not c.saving)
        own = probe.wait_for(str(c.day.route_ids["V05"]))
        assert own["console_id"] == c.console_id()  # so our own sync connection drops it

        kept = c.day.plan.routes["V05"][9]
        panel.boards["V05"].select_stops([kept])

        theirs = desk2.reverse("V05")

        qtbot.waitUntil(lambda: c.day is not None and c.day.plan.routes["V05"] == theirs, **WAIT)
        text = panel.change_label.text()
        assert text.startswith("erika changed the route of V05")  # the person, not the desk id
        assert "1 undo step(s) on V05 were dropped" in text
        assert panel.boards["V05"].model.stop_id(0) == theirs[0]
        assert panel.boards["V05"].selected_stop_ids() == [kept]  # the selection stays
    finally:
        probe.close()
        desk2.client.stop()
        shut(qtbot, window, core)


class Probe:
    """Listens on the sync topic like any workstation, to see what this console announced."""

    def __init__(self, core: Core) -> None:
        live = core.live
        assert live is not None and live.client is not None
        base = live.client.settings
        self.notes: list[dict[str, object]] = []
        self.arrived = threading.Condition()
        self.client = TelemetryClient(
            MqttSettings(url=base.url, console_id="probe", clean_session=True, prefix=base.prefix),
            self._on_message,
            subscriptions=[(sync_topic(base.prefix), 1)],
        )
        self.client.start()
        assert self.client.wait_connected(10)

    def _on_message(self, topic: str, payload: bytes, ack: object = None) -> None:
        with self.arrived:
            self.notes.append(json.loads(payload))
            self.arrived.notify_all()
        if callable(ack):
            ack()

    def wait_for(self, route_id: str) -> dict[str, object]:
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: any(n.get("id") == route_id for n in self.notes), timeout=10
            )
        assert ok, f"no sync note for route {route_id}"
        return next(n for n in self.notes if n.get("id") == route_id)

    def close(self) -> None:
        self.client.stop()


def save_as_desk2(session: Any, *args: Any, actor: str = "desk2") -> dict[str, tuple[int, int]]:
    """Save routes as another desk's user (the core checks the actor's role)."""
    from dispatcher.persistence import users_repo

    return fleet_repo.save_routes(session, *args, actor=users_repo.login(session, actor).id)


def test_another_desks_save_is_built_and_evaluated_off_the_gui_thread(
    qtbot,
    db_url: str,
    mqtt_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The day as stored is built and evaluated in the reading worker; the GUI thread only
    merges the changed route (issue 17: at 500 vehicles it built and evaluated the whole
    day itself, about a second at every save of another desk)."""
    from dispatcher.planning import desk as desk_module
    from dispatcher.planning.dayplan import build_day_plan as build

    built_on: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        built_on.append(threading.current_thread() is threading.main_thread())
        return build(*args, **kwargs)

    monkeypatch.setattr(desk_module, "build_day_plan", watched)
    core = open_core(db_url, mqtt_url)
    desk2 = Desk2(core)
    window = None
    try:
        window = open_window(qtbot, core, tmp_path)
        c = panel_of(window).controller
        assert c.day is not None
        built_on.clear()

        theirs = desk2.reverse("V05")

        qtbot.waitUntil(lambda: c.day is not None and c.day.plan.routes["V05"] == theirs, **WAIT)
        assert built_on and not any(built_on), "the stored day was built in the worker"
        evaluated = c.desk.evaluation
        assert evaluated is not None
        ahead = evaluated.routes["V05"].stop_ids  # the merged route's order (done stops left out)
        assert ahead and list(ahead) == [sid for sid in theirs if sid in ahead]
        assert panel_of(window).change_label.text().startswith("erika changed the route of V05")
    finally:
        desk2.client.stop()
        shut(qtbot, window, core)


def test_a_colleagues_edit_keeps_my_undo_history_for_other_vehicles(
    qtbot,
    db_url: str,
    mqtt_url: str,
    tmp_path: Path,
) -> None:
    """Issue 24: an edit on V05 by another desk used to reload the day and clear all undo."""
    core = open_core(db_url, mqtt_url)
    desk2 = Desk2(core)
    probe = Probe(core)
    window = None
    try:
        window = open_window(qtbot, core, tmp_path)
        show_active(qtbot, window)
        panel = panel_of(window)
        c = panel.controller
        assert c.day is not None and c.undo_stack is not None
        v03_before = list(c.day.plan.routes["V03"])
        assert c.move([c.day.plan.routes["V03"][4]], "V03", 1)
        assert c.move([c.day.plan.routes["V05"][6]], "V05", 2)
        qtbot.waitUntil(lambda: not c.saving)
        me = getpass.getuser()
        assert probe.wait_for(str(c.day.route_ids["V05"]))["actor"] == me
        generation = c.generation

        theirs = desk2.reverse("V05")

        qtbot.waitUntil(lambda: c.day is not None and c.day.plan.routes["V05"] == theirs, **WAIT)
        text = panel.change_label.text()
        assert text == (
            "erika changed the route of V05. 1 undo step(s) on V05 were dropped"
            " (your changes were saved; theirs are shown)"
        )
        assert c.undo_stack.vehicles_in_history() == {"V03"}, "V03's step is kept"
        assert c.generation == generation + 1  # previews of the old routes are stale
        assert panel.boards["V05"].model.stop_id(0) == theirs[0]

        board = panel.boards["V03"]
        board.table.setFocus()
        qtbot.keyClick(board.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert c.day.plan.routes["V03"] == v03_before and c.day.plan.routes["V05"] == theirs
        qtbot.waitUntil(lambda: not c.saving)
        with core.db.session() as session:
            stored = {
                r.vehicle_id: [str(s.id) for s in r.stops]
                for r in fleet_repo.load_routes(session, DAY)
            }
            actors = session.scalars(
                select(AuditEntry.actor)
                .where(AuditEntry.action == "route.edit")
                .order_by(AuditEntry.id)
            ).all()
        assert stored["V03"] == v03_before and stored["V05"] == theirs
        assert actors == [me, me, "erika", me], "every route edit names the person"
    finally:
        probe.close()
        desk2.client.stop()
        shut(qtbot, window, core)


def test_a_progress_merge_gone_stale_is_redone_in_a_worker(
    qtbot, core: Core, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live ETA refresh landing between a progress job's copy and its result makes the copy
    stale: the merge runs again off the GUI thread, not on it (issue 17)."""
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    desk = c.desk
    sid = c.day.plan.routes["V04"][0]
    delivered(core, "V04", c.day.stops[sid].order_ref)
    jobs: list[int] = []
    on_gui: list[int] = []
    make_job, merge = desk.progress_job, desk.merge_progress

    def progress_job(day: Any) -> Any:
        jobs.append(1)
        return make_job(day)

    def merge_progress(progress: Any) -> Any:
        on_gui.append(1)
        return merge(progress)

    monkeypatch.setattr(desk, "progress_job", progress_job)
    monkeypatch.setattr(desk, "merge_progress", merge_progress)
    current = desk.progress_current
    stale = [True]  # the first result finds the plan changed

    def progress_current(result: Any) -> bool:
        if stale[0]:
            stale[0] = False
            return False
        return current(result)

    monkeypatch.setattr(desk, "progress_current", progress_current)
    with qtbot.waitSignal(c.progressed, timeout=10000) as got:
        assert panel.live.poll_progress(force=True)
    assert got.args == [[sid]]
    assert len(jobs) == 2 and on_gui == []  # merged twice in a worker, never on the GUI thread


def test_a_board_is_told_only_of_rows_whose_times_changed(
    qtbot, core: Core, window: MainWindow
) -> None:
    """New times that read as before repaint nothing; a delivery repaints its rows (issue 17:
    each repaint of a board calls into Python a dozen times per cell)."""
    panel = panel_of(window)
    c = panel.controller
    assert c.day is not None
    show_active(qtbot, window)
    board = panel.boards["V01"]
    panel.show_board(board)
    qtbot.waitUntil(board.model.on_screen)
    c.times_changed.emit()  # the view is told of every row once ...
    spans: list[tuple[int, int]] = []
    board.model.dataChanged.connect(lambda a, b, *_: spans.append((a.row(), b.row())))
    c.times_changed.emit()  # ... and not again while they read the same
    assert spans == []
    sid = c.day.plan.routes["V01"][2]
    delivered(core, "V01", c.day.stops[sid].order_ref)
    panel.live.progress_every_s = 0.0
    with qtbot.waitSignal(c.progressed, timeout=10000):
        window.tick()
    row = board.model.row_of(sid)
    assert board.model.index(row, Column.STATUS).data() == "done"
    assert any(top <= row <= bottom for top, bottom in spans)
