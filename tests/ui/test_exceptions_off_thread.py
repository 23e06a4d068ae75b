"""The queue's actions save in a worker (issue 16): the row shows the new state "saving…"
at once, the GUI thread never writes, and a refused save puts the row back with the reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fleet_zone import utc
from PySide6.QtCore import Qt

from dispatcher.alerts.desk import AlertDesk
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import DispatcherError
from dispatcher.model.alerts import AlertKind, AlertStatus, Condition, Severity
from dispatcher.persistence.alert_repo import alert_store
from dispatcher_ui.exceptions.model import Column
from dispatcher_ui.exceptions.panel import ExceptionsPanel
from dispatcher_ui.main_window import MainWindow  # noqa: F401  # before the QApplication (map scheme)
from dispatcher_ui.selection import SelectionModel

T0 = utc(10, 0)
#: The one exception the queue starts with.
LATE = Condition(
    AlertKind.LATE,
    "stop:1",
    Severity.HIGH,
    "Stop 1 late",
    sla_deadline=T0 + timedelta(minutes=30),
    vehicle_id="V01",
    stop_id="1",
)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(Settings(database_url=f"sqlite:///{tmp_path / 'q.sqlite3'}"), clock=FakeClock(T0))
    with alert_store(c.db) as store:
        AlertService(store, c.clock).reconcile([LATE], list(AlertKind))
    yield c
    c.close()


@pytest.fixture
def panel(qtbot: Any, core: Core) -> ExceptionsPanel:
    window = SimpleNamespace(core=core, selection=SelectionModel(), docks={})
    desk = AlertDesk(core.db, core.clock, core.bus)
    desk.login("admin")
    alice = desk.login("alice")
    widget = ExceptionsPanel(window, desk, alice)  # type: ignore[arg-type]  # stand-in window
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.reload(background=False)
    widget.view.setFocus()
    widget.view.selectRow(0)
    widget.activateWindow()
    qtbot.waitUntil(widget.view.hasFocus)
    return widget


def status_cell(panel: ExceptionsPanel) -> str:
    return str(panel.model.index(0, Column.STATUS).data())


def stored_status(core: Core) -> AlertStatus:
    with alert_store(core.db) as store:
        [stored] = store.list_alerts()
    return stored.status


def test_acknowledge_writes_off_the_gui_thread_and_shows_saving_meanwhile(
    qtbot: Any, panel: ExceptionsPanel, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    release = threading.Event()
    acknowledge = AlertService.acknowledge

    def slow_acknowledge(self: AlertService, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        release.wait(10)  # the database is slow: the window must not wait with it
        return acknowledge(self, *args, **kwargs)

    monkeypatch.setattr(AlertService, "acknowledge", slow_acknowledge)
    events: list[tuple[object, threading.Thread]] = []
    core.bus.subscribe(object, lambda e: events.append((e, threading.current_thread())))
    qtbot.keyClick(panel.view, Qt.Key.Key_A)
    assert status_cell(panel) == "acknowledged · saving…"  # at once, before the save
    assert "Saving exception #1" in panel.message.text()
    qtbot.waitUntil(lambda: bool(threads))
    release.set()
    qtbot.waitUntil(lambda: status_cell(panel) == "acknowledged")
    assert threads and threading.main_thread() not in threads
    assert stored_status(core) is AlertStatus.ACKNOWLEDGED
    assert events and all(t is threading.main_thread() for _, t in events), "bus on GUI thread"
    assert panel.last_error == "" and panel.message.text() == ""


def test_a_refused_save_puts_the_row_back_and_says_why(
    qtbot: Any, panel: ExceptionsPanel, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: AlertService, *args: Any, **kwargs: Any) -> Any:
        raise DispatcherError("the database did not answer; nothing was saved")

    monkeypatch.setattr(AlertService, "assign", refuse)
    qtbot.keyClick(panel.view, Qt.Key.Key_T)
    assert status_cell(panel) == "assigned · saving…"
    qtbot.waitUntil(lambda: panel.last_error != "")
    assert panel.last_error == "the database did not answer; nothing was saved"
    assert status_cell(panel) == "new"
    assert panel.model.index(0, Column.ASSIGNEE).data() == ""
    assert stored_status(core) is AlertStatus.NEW


def test_a_second_key_while_saving_is_refused_in_words(
    qtbot: Any, panel: ExceptionsPanel, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    acknowledge = AlertService.acknowledge

    def slow_acknowledge(self: AlertService, *args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return acknowledge(self, *args, **kwargs)

    monkeypatch.setattr(AlertService, "acknowledge", slow_acknowledge)
    qtbot.keyClick(panel.view, Qt.Key.Key_A)
    qtbot.keyClick(panel.view, Qt.Key.Key_T)
    assert panel.last_error == "Exception #1 is still being saved."
    release.set()
    qtbot.waitUntil(lambda: status_cell(panel) == "acknowledged")
    assert stored_status(core) is AlertStatus.ACKNOWLEDGED


def test_an_older_read_landing_last_does_not_move_the_selection(
    qtbot: Any, panel: ExceptionsPanel, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read begun before an exception was raised, landing after a newer read had shown and
    selected it, took its row away and moved the selection to the neighbour: Resolve then
    opened for another exception (the walkthrough's "Resolve exception #3" for #4)."""
    from dispatcher.alerts.desk import AlertDesk as Desk
    from dispatcher_ui.workers import drain

    gate, entered = threading.Event(), threading.Event()
    queue = Desk.queue

    def held(desk: Desk, *args: Any, **kwargs: Any) -> Any:
        alerts = queue(desk, *args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            entered.set()
            gate.wait(10)
        return alerts

    monkeypatch.setattr(Desk, "queue", held)
    panel.reload()  # in a worker: reads the queue as it is now, then waits
    assert entered.wait(10)
    with alert_store(core.db) as store:
        service = AlertService(store, core.clock)
        raised = Condition(
            AlertKind.VEHICLE_OFFLINE, "vehicle:V02", Severity.CRITICAL, "V02 offline"
        )
        service.reconcile([LATE, raised], list(AlertKind))
        new = next(a for a in store.list_alerts() if a.subject == "vehicle:V02")
    assert new.id is not None
    panel.reload(background=False)
    assert panel.select_alert(new.id)
    gate.set()
    assert drain(10_000)
    qtbot.wait(100)  # the older read's answer is delivered (a queued signal)
    current = panel.current_alert()
    assert current is not None and current.id == new.id
    assert panel.model.rowCount() == 2
