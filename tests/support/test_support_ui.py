"""The support screens driven as a person would, over the hand-made support day
(support_day.py): the real window, its real menu actions and keys, real dialogs.

``SUPPORT_SHOTS=<dir>`` also saves the screenshots used in docs/support.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import local
from PySide6.QtCore import QSettings, Qt, QTime
from PySide6.QtWidgets import QApplication, QWidget
from support_day import Day, build_day

from dispatcher import display
from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.model.users import Role, User
from dispatcher.persistence import support_repo
from dispatcher.support import handover, search
from dispatcher_ui.history.replay_bar import ReplayBar
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.support.flight_recorder import FlightRecorderDialog
from dispatcher_ui.support.handover_dialog import HandoverDialog
from dispatcher_ui.support.order_search import OrderSearchDialog


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = build_core(
        Settings(database_url=f"sqlite:///{tmp_path / 'support.sqlite3'}"),
        clock=FakeClock(local(10)),
    )
    yield c
    c.close()


@pytest.fixture
def day(core: Core) -> Day:
    return build_day(core.db)


@pytest.fixture
def window(qtbot: Any, core: Core, day: Day, tmp_path: Path) -> MainWindow:
    w = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: not w.routes_loading, timeout=15000)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
DIALOG = OrderSearchDialog


def shot(widget: QWidget, name: str) -> None:
    where = os.environ.get("SUPPORT_SHOTS")
    if where:
        QApplication.processEvents()
        widget.grab().save(str(Path(where) / name))


def test_where_is_my_order_as_you_type(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[bool] = []
    real = search.find_orders

    def watched(*args: Any, **kw: Any) -> Any:  # the real search, noting where it ran
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kw)

    monkeypatch.setattr("dispatcher_ui.support.order_search.find_orders", watched)
    qtbot.keyClick(window, Qt.Key.Key_W, CTRL_SHIFT)
    qtbot.waitUntil(lambda: isinstance(getattr(window, "order_search_dialog", None), DIALOG))
    dialog = window.order_search_dialog
    qtbot.waitUntil(dialog.query.hasFocus)
    qtbot.keyClicks(dialog.query, "okaf")
    qtbot.waitUntil(lambda: dialog.results.count() == 2)
    assert threads and not any(threads), "searched off the GUI thread only"
    assert dialog.status.text() == "2 order(s) found"
    qtbot.keyClick(dialog.query, Qt.Key.Key_Down)
    assert dialog.results.hasFocus() and dialog.results.currentRow() == 0
    qtbot.waitUntil(lambda: dialog.shown is not None)
    qtbot.keyClick(dialog.results, Qt.Key.Key_Down)
    assert dialog.results.currentRow() == 1
    qtbot.keyClick(dialog.results, Qt.Key.Key_Up)
    qtbot.keyClick(dialog.results, Qt.Key.Key_Up)
    assert dialog.query.hasFocus(), "Up from the first result goes back to the query"

    dialog.query.selectAll()
    qtbot.keyClicks(dialog.query, "0176 9876543")
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [r.order_ref for r in dialog.rows] == ["O-1002"])

    def card_of() -> str:
        return "" if dialog.shown is None else dialog.shown.facts.row.order_ref

    qtbot.waitUntil(lambda: card_of() == "O-1002")
    text = dialog.card.toPlainText()
    d = display.current()
    assert "stop 2 of 3 (0 open stop(s) before it)" in text
    assert f"{d.instant(local(14, 25))} (as the boards said at {d.instant(local(9, 11))})" in text
    assert "between 14:00 and 15:00" in text and "customer called, fine with 14:25" in text
    shot(dialog, "support_order_search.png")

    dialog.query.selectAll()
    qtbot.keyClicks(dialog.query, "<b>nobody</b>")
    qtbot.waitUntil(lambda: dialog.status.text() == "No order found.")
    assert dialog.results.count() == 0
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_the_flight_recorder_at_0912(qtbot: Any, window: MainWindow, day: Day) -> None:
    qtbot.keyClick(window, Qt.Key.Key_B, CTRL_SHIFT)
    qtbot.waitUntil(
        lambda: isinstance(getattr(window, "flight_recorder_dialog", None), FlightRecorderDialog)
    )
    dialog = window.flight_recorder_dialog
    qtbot.waitUntil(lambda: not dialog.loading)
    dialog.start_edit.setTime(QTime(8, 30))
    dialog.end_edit.setTime(QTime(10, 0))
    qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.recording is not None and dialog.recording.start == local(8, 30))
    dialog.slider.setFocus()
    qtbot.keyClick(dialog.slider, Qt.Key.Key_PageUp)  # +15 min: 08:45
    qtbot.keyClick(dialog.slider, Qt.Key.Key_PageUp)  # 09:00
    for _ in range(12):
        qtbot.keyClick(dialog.slider, Qt.Key.Key_Right)
    state = dialog.state
    assert state is not None and state.at == local(9, 12)

    def column(table: Any, col: int) -> list[str]:
        return [table.item(r, col).text() for r in range(table.rowCount())]

    assert column(dialog.exceptions, 0) == [str(day.alert_a), str(day.alert_b)]
    assert column(dialog.exceptions, 2) == ["acknowledged", "new"]
    d = display.current()
    assert dict(zip(column(dialog.etas, 0), column(dialog.etas, 1), strict=True)) == {
        "O-1002": d.instant(local(14, 25)),
        "O-1003": d.instant(local(15)),
    }
    assert column(dialog.messages, 5) == ["delivered", "sent"]
    shot(dialog, "support_flight_recorder.png")
    # the vans: the map's position replay loads the same period and follows the slider
    qtbot.mouseClick(dialog.follow_map, Qt.MouseButton.LeftButton)
    bar = window.room(ReplayBar)
    qtbot.waitUntil(lambda: bar.player is not None and bar.player.window.start == local(8, 30))
    assert window.docks["history"].isVisible()
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.state is not None and dialog.state.at == local(9, 30)
    assert bar.time_label.text() == d.clock(local(9, 30), seconds=True)
    assert column(dialog.exceptions, 0) == [str(day.alert_b)]
    assert column(dialog.messages, 5)[0] == "failed (time not recorded)"
    qtbot.mouseClick(dialog.previous_button, Qt.MouseButton.LeftButton)
    assert dialog.state is not None and dialog.state.at == local(9, 12)
    # a bad period is said, not raised
    dialog.start_edit.setTime(QTime(11, 0))
    qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "ends before it starts" in dialog.note.text())
    dialog.close()


def test_the_next_shift_takes_over_a_handover(qtbot: Any, window: MainWindow, core: Core) -> None:
    alice = User("alice", Role.DISPATCHER)
    report = handover.build_report(core.db, alice, local(9, 55), local(8), local(8).date())
    handover.publish(core.db, report)
    me = core.user.id
    action = window.shortcuts.find("window", "Shift handover").action
    assert action is not None
    action.trigger()
    qtbot.waitUntil(lambda: isinstance(getattr(window, "handover_dialog", None), HandoverDialog))
    dialog = window.handover_dialog
    qtbot.waitUntil(lambda: dialog.list.count() == 1)
    assert "NOT TAKEN OVER" in dialog.list.item(0).text()
    assert "between 14:00 and 15:00" in dialog.report_view.toPlainText()
    shot(dialog, "support_handover.png")
    qtbot.mouseClick(dialog.take_over_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialog.list.count()) and me in dialog.list.item(0).text())
    with core.db.session() as s:
        acks = [(e.actor, e.action) for e in support_repo.handover_entries(s, report.id)]
    assert acks == [("alice", "handover.create"), (me, "handover.ack")]

    # my own handover: I cannot take it over myself
    qtbot.keyClicks(dialog.note_edit, "V1 back at noon")
    qtbot.mouseClick(dialog.hand_over_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.list.count() == 2 and not dialog.busy)
    dialog.list.setCurrentRow(0)
    assert "V1 back at noon" in dialog.report_view.toPlainText()
    qtbot.mouseClick(dialog.take_over_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "the next shift acknowledges it" in dialog.status.text())
    dialog.close()


def test_stored_text_is_not_markup_on_the_card() -> None:
    from datetime import date

    from dispatcher.persistence.support_repo import OrderFacts, OrderRow
    from dispatcher.support.card import CardItem, OrderCard
    from dispatcher_ui.support.order_search import card_html

    row = OrderRow(
        1,
        "<i>O-1</i>",
        date(2026, 11, 20),
        "pending",
        "<img src=x>",
        "<b>Eve</b>",
        "•••• 123",
        None,
    )
    facts = OrderFacts(
        row, "delivery", None, None, None, None, None, 0, "", "<a>", None, 0, 0, "", None
    )
    html = card_html(OrderCard(facts, [CardItem(local(9), "message out", "<script>", "<hr>")]))
    for raw in ("<i>O-1", "<img", "<b>Eve", "<script>", "<hr>", "<a>"):
        assert raw not in html, raw
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "not on a route" in html
