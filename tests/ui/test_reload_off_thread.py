"""The window's route reload reads the database in a worker (issue 14): F5, a day picked, an
import. The boards update when the answer arrives and never step back to an older state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import DAY, demo_day, utc
from PySide6.QtCore import Qt
from routes_wait import wait_for_routes

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.persistence import fleet_repo
from dispatcher_ui.fleet_model import FleetColumn
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(Settings(database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}"), clock=FakeClock(utc(7)))
    with c.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY, n_orders=30, n_vehicles=3))
    yield c
    c.close()


def test_f5_reads_the_routes_off_the_gui_thread(
    qtbot: Any, window: MainWindow, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    session = core.db.session

    def watched() -> AbstractContextManager[Any]:
        threads.append(threading.current_thread())
        return session()

    monkeypatch.setattr(core.db, "session", watched)
    window.stats_label.setText("")
    board = window.routes_panel.boards["V01"]
    qtbot.keyClick(board.table, Qt.Key.Key_F5)
    wait_for_routes(qtbot, window)
    assert window.stats_label.text() == "3 routes · 30 stops"
    assert threads and threading.main_thread() not in threads


def test_a_reload_read_before_an_edit_was_saved_is_read_again(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = window.routes_panel
    c = panel.controller
    assert c.day is not None
    sid = c.day.plan.routes["V01"][0]
    saved = threading.Event()
    load_routes = fleet_repo.load_routes

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        routes = load_routes(*args, **kwargs)
        if not saved.is_set():  # the first read: its answer predates the edit below
            saved.wait(10)
        return routes

    monkeypatch.setattr(fleet_repo, "load_routes", read_then_wait)
    window.reload_routes()  # F5 ... and, before its answer is in, a drag saved
    assert c.move([sid], "V02", 0)
    saved.set()
    wait_for_routes(qtbot, window)
    assert c.day is not None and c.day.plan.routes["V02"][0] == sid  # not the older read
    assert panel.boards["V02"].model.stop_id(0) == sid


def test_the_fleet_tab_names_vehicles_from_the_reload(qtbot: Any, window: MainWindow) -> None:
    from dispatcher.fleet.state import FleetChanged
    from dispatcher.model.core import PositionReport

    fleet = window.fleet_model._fleet
    fix = PositionReport("V01", utc(7), 52.5, 13.4, speed_kmh=20.0, heading_deg=0.0)
    changed, _ = fleet.apply_positions([(fix, False)], utc(7))
    window.fleet_model.on_fleet_changed(FleetChanged(frozenset(changed)))
    cell = window.fleet_model.index(0, FleetColumn.VEHICLE)
    assert cell.data() == "Van 01 (V01)"  # the name came with the routes, read in a worker
