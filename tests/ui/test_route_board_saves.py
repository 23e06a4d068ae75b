"""Route board saves run off the GUI thread (issue 16, item 4).

A drag shows at once; its save waits on a worker while the database is busy ("saving…" in
the panel's top row). Edits made meanwhile are queued and saved in order; a save that fails
takes back every edit still waiting, so the boards show what is stored, and says why.
Each test drives real drops on the boards of the real main window.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY
from PySide6.QtCore import QSettings, Qt
from routes_wait import wait_for_routes
from sqlalchemy import select
from sqlalchemy.engine import make_url
from test_route_board import (
    _write,
    drop_on,
    panel_of,
    save_as_desk2,
    show_active,
    stored_route,
)

from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import AuditEntry
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(db_url: str, demo_core: Callable[..., Core]) -> Core:
    return demo_core(db_url)


@pytest.fixture
def window(board_window: MainWindow) -> MainWindow:
    return board_window  # not shown (tests/ui/conftest.py)


@contextmanager
def writes_held(url: str) -> Iterator[None]:
    """Another connection holds the write lock: saves wait (SQLite up to its busy timeout)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        lite = sqlite3.connect(parsed.database, isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
        return
    import psycopg

    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg:
        pg.execute("LOCK TABLE routes IN EXCLUSIVE MODE")  # reads go on, writes wait
        try:
            yield
        finally:
            pg.rollback()


def route_edits(core: Core) -> int:
    with core.db.session() as session:
        entries = session.scalars(select(AuditEntry.id).where(AuditEntry.action == "route.edit"))
        return len(entries.all())


def test_two_quick_drags_show_at_once_and_are_saved_in_order(
    qtbot, window: MainWindow, core: Core, db_url: str
) -> None:
    panel = panel_of(window)
    c, board = panel.controller, panel.boards["V02"]
    assert c.day is not None
    route, version, edits = list(c.day.plan.routes["V02"]), c.day.db_versions["V02"], 0
    edits = route_edits(core)
    with writes_held(db_url):
        started = time.perf_counter()
        drop_on(board, [route[4]], 0)
        assert c.day.plan.routes["V02"][0] == route[4]  # shown at once ...
        assert board.model.stop_id(0) == route[4]
        assert panel.saving_label.isVisibleTo(panel)  # ... and said to be saving
        drop_on(board, [route[6]], 0)  # while the first save waits on the database
        assert time.perf_counter() - started < 1.0, "the GUI thread did not wait for the save"
        assert c.day.plan.routes["V02"][:2] == [route[6], route[4]]
        assert c.saving and stored_route(core, "V02") == route
    qtbot.waitUntil(lambda: not c.saving, timeout=15000)

    assert not panel.saving_label.isVisibleTo(panel)
    assert stored_route(core, "V02") == c.day.plan.routes["V02"]
    assert stored_route(core, "V02")[:2] == [route[6], route[4]]
    assert c.day.db_versions["V02"] == version + 2, "two saves, one after the other"
    assert route_edits(core) == edits + 2
    assert "taken back" not in panel.change_label.text()


def test_a_drag_refused_as_stale_is_taken_back_with_a_message(
    qtbot, window: MainWindow, core: Core
) -> None:
    panel = panel_of(window)
    c, board = panel.controller, panel.boards["V05"]
    assert c.day is not None
    said: list[str] = []
    c.message.connect(said.append)
    route = list(c.day.plan.routes["V05"])
    with core.db.session() as session:  # another workstation reverses V05 meanwhile
        version = {r.vehicle_id: r.version for r in fleet_repo.load_routes(session, DAY)}["V05"]
        save_as_desk2(
            session, DAY, [fleet_repo.RouteWrite("V05", version, tuple(map(_write, route[::-1])))]
        )

    drop_on(board, [route[3]], 0)

    assert board.model.stop_id(0) == route[3]  # optimistic: the board shows the drag
    qtbot.waitUntil(lambda: c.day is not None and c.day.plan.routes["V05"] == route[::-1])
    assert any(m.startswith("Not saved") and "taken back" in m for m in said), said
    assert board.model.stop_id(0) == route[-1]  # the stored route, theirs
    assert stored_route(core, "V05") == route[::-1]
    assert not panel.saving_label.isVisibleTo(panel)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_drags_the_database_never_takes_are_taken_back_and_redo_saves_them(
    qtbot, window: MainWindow, core: Core, db_url: str
) -> None:
    """The database stays locked past its busy timeout: both waiting drags are taken back,
    the boards show what is stored, and Redo, once it answers again, saves them in order."""
    show_active(qtbot, window)
    panel = panel_of(window)
    c, board = panel.controller, panel.boards["V03"]
    assert c.day is not None
    route = list(c.day.plan.routes["V03"])
    with writes_held(db_url):
        drop_on(board, [route[5]], 0)
        drop_on(board, [route[7]], 0)
        assert c.day.plan.routes["V03"][:2] == [route[7], route[5]]
        qtbot.waitUntil(lambda: not c.saving, timeout=20000)

        text = panel.change_label.text()
        assert text.startswith("Not saved — ") and "locked" in text, text
        assert "The last 2 changes were taken back; Redo (Ctrl+Shift+Z) tries again" in text
        assert c.day.plan.routes["V03"] == route and board.model.stop_id(0) == route[0]
        assert not panel.saving_label.isVisibleTo(panel)
    assert stored_route(core, "V03") == route

    board.table.setFocus()
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(board.table, Qt.Key.Key_Z, redo)
    qtbot.keyClick(board.table, Qt.Key.Key_Z, redo)
    assert c.day.plan.routes["V03"][:2] == [route[7], route[5]]
    qtbot.waitUntil(lambda: not c.saving, timeout=15000)
    assert stored_route(core, "V03") == c.day.plan.routes["V03"]
    assert stored_route(core, "V03")[:2] == [route[7], route[5]]


def gui_thread_sessions(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every database session opened on the GUI thread from now on."""
    opened: list[str] = []
    session = core.db.session

    def watched() -> AbstractContextManager[Any]:
        if threading.current_thread() is threading.main_thread():
            opened.append("session")
        return session()

    monkeypatch.setattr(core.db, "session", watched)
    return opened


def test_the_window_opens_and_a_drag_is_undone_without_the_gui_thread_reading(
    qtbot, core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, item 4: the day to open on, the map's depots, the queue's user, the boards'
    reads and saves all go through workers."""
    opened = gui_thread_sessions(core, monkeypatch)
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    show_active(qtbot, window)
    wait_for_routes(qtbot, window)
    panel = panel_of(window)
    c, board = panel.controller, panel.boards["V04"]
    assert c.day is not None and window.day_bar.day == DAY  # chosen by the first read
    qtbot.waitUntil(lambda: window.exceptions_panel.user.name != "identifying you…")
    route = list(c.day.plan.routes["V04"])

    drop_on(board, [route[3]], 0)
    board.table.setFocus()
    qtbot.keyClick(board.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not c.saving)

    assert opened == [], "a database session was opened on the GUI thread"
    assert stored_route(core, "V04") == route == c.day.plan.routes["V04"]  # (the test reads)
