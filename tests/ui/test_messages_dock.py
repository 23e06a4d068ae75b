"""One click on a late stop: a running-late message with the fresh ETA, shown as sent.

The window runs on the demo day under a FakeClock at 11:00 Berlin, with the real messaging
service (SQL outbox, relay worker thread, capture channel). Time only moves when the test
says so, so the undo window is passed by advancing the clock, not by sleeping.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from fleet_zone import TZ, local
from PySide6.QtCore import QSettings, Qt
from routes_wait import wait_for_routes

from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.errors import PermissionDenied
from dispatcher.messaging.service import MessagingService
from dispatcher.messaging.settings import MessagingSettings
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.stop_facts import fresh_eta, is_late
from dispatcher.model.messaging import OutboxStatus
from dispatcher.persistence.orm import Stop
from dispatcher.users.desk import UserDesk
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.messages.actions import message_customer
from dispatcher_ui.messages.outbox_model import Column, OutboxModel

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def core(sqlite_url: str, tmp_path: Path) -> Iterator[Core]:
    clock = FakeClock(local(11, 0))
    capture = str(tmp_path / "capture.jsonl")

    def prepare(core: Core) -> None:
        core.seed_demo_if_empty()
        UserDesk(core.db).login()  # the OS login comes first: admin (it edits templates below)
        UserDesk(core.db).login("ann")  # a dispatcher; sends as "ann" below

    def fast(settings: MessagingSettings) -> MessagingSettings:
        return replace(settings, undo_seconds=8.0, poll_seconds=0.1)

    core = build_core(
        Settings(database_url=sqlite_url, sections={"messaging": {"capture_file": capture}}),
        clock=clock,
        prepare=prepare,
        messaging=fast,
    )
    yield core
    core.close()


@pytest.fixture
def window(qtbot, core: Core, tmp_path: Path) -> MainWindow:
    win = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    wait_for_routes(qtbot, win)
    return win


def service(window: MainWindow) -> MessagingService:
    from dispatcher_ui.messages.actions import messaging_service

    return messaging_service(window)


def first_late_stop(svc: MessagingService) -> tuple[int, datetime]:
    with svc.db.session() as session:
        ids = list(session.scalars(Stop.__table__.select().with_only_columns(Stop.id)))
    now = svc.clock.now()
    for stop_id in ids:
        contact = svc.load_contact(stop_id)
        eta = fresh_eta(contact, now, None, svc.settings.timezone)
        if is_late(contact, eta) and eta is not None:
            return stop_id, eta
    raise AssertionError("no late stop in the demo at 11:00")


def rows_with(model: OutboxModel, status: str) -> list[int]:
    return [r for r in range(model.rowCount()) if model.index(r, Column.STATUS).data() == status]


def test_one_click_on_a_late_stop_is_sent_with_the_right_eta(qtbot, window: MainWindow) -> None:
    svc = service(window)
    panel = window.messages_panel
    stop_id, eta = first_late_stop(svc)
    message_customer(window, stop_id)
    qtbot.waitUntil(lambda: panel.banner.message_id is not None, timeout=10000)
    assert "Running late" in panel.banner.title.text()
    eta_text = eta.astimezone(TZ).strftime("%H:%M")
    assert f"New estimated arrival: {eta_text}" in panel.banner.text.text()
    assert panel.banner.undo.isEnabled()

    clock = window.core.clock
    assert isinstance(clock, FakeClock)
    clock.advance(9)  # past the undo window
    svc.kick()

    def sent() -> bool:
        window.tick()
        return bool(rows_with(panel.model, "sent"))

    qtbot.waitUntil(sent, timeout=15000)
    (row,) = rows_with(panel.model, "sent")
    text = panel.model.index(row, Column.TEXT).data()
    assert f"New estimated arrival: {eta_text}" in text
    assert panel.model.index(row, Column.TEMPLATE).data() == "running late v2"
    assert panel.model.index(row, Column.CUSTOMER).data() not in ("", "—")
    capture = Path(svc.settings.capture_path).read_text().splitlines()
    assert len(capture) == 1 and eta_text in json.loads(capture[0])["text"]


def test_double_click_makes_one_row(qtbot, window: MainWindow) -> None:
    svc = service(window)
    stop_id, _ = first_late_stop(svc)
    message_customer(window, stop_id)
    message_customer(window, stop_id)
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().waitForDone(10000)
    qtbot.wait(50)  # deliver both results to the GUI thread
    assert [r.status for r in svc.store.list()] == [OutboxStatus.QUEUED]
    message_customer(window, stop_id)  # a later click says it is already there
    qtbot.waitUntil(lambda: "already in the outbox" in _status(window), timeout=10000)
    assert [r.status for r in svc.store.list()] == [OutboxStatus.QUEUED]


def _status(window: MainWindow) -> str:
    return window.statusBar().currentMessage() + window.messages_panel.banner.title.text()


def test_undo_cancels_the_message(qtbot, window: MainWindow) -> None:
    svc = service(window)
    panel = window.messages_panel
    stop_id, _ = first_late_stop(svc)
    message_customer(window, stop_id)
    qtbot.waitUntil(lambda: panel.banner.message_id is not None, timeout=10000)
    assert panel.banner.undo.isEnabled()
    panel.banner.undo.click()
    qtbot.waitUntil(lambda: panel.banner.undo.text() == "Cancelled", timeout=10000)
    assert [r.status for r in svc.store.list()] == [OutboxStatus.CANCELLED]


def test_the_outbox_model_passes_the_model_tester(qtmodeltester, qtbot, window: MainWindow) -> None:
    svc = service(window)
    stop_id, _ = first_late_stop(svc)
    svc.message_stop(stop_id, "late", "ann")
    model = OutboxModel()
    model.set_rows(svc.store.list(), {})
    qtmodeltester.check(model)
    assert model.rowCount() == 1


def preview(qtbot, tab, body: str) -> str:
    """Type ``body`` into the real editor; wait for the worker's preview; return the error."""
    with qtbot.waitSignal(tab.previewed, timeout=10000, check_params_cb=lambda b: b == body):
        tab.body.setPlainText(body)  # the debounce timer starts the rendering in a worker
    return str(tab.error.text())


def test_template_editor_names_the_bad_variable_and_refuses_injection(
    qtbot, window: MainWindow
) -> None:
    tab = window.messages_panel.templates
    tab.select("running_late/sms/en")
    assert "reschedule_url" in preview(qtbot, tab, "Hi {{ reschedule_url }}")
    assert not tab.save.isEnabled()
    assert preview(qtbot, tab, "{{ ''.__class__ }}").startswith("Does not render")
    assert preview(qtbot, tab, "{{ company_name }}: late again, now {{ eta }}.") == ""
    assert "GSM-7" in tab.segments.text()
    with qtbot.waitSignal(tab.save_finished, timeout=10000) as saved:
        qtbot.mouseClick(tab.save, Qt.MouseButton.LeftButton)
    assert saved.args == [True]
    svc = service(window)
    assert svc.templates.all() and any(
        s.template_id == "running_late/sms/en" and s.version == 3 for s in svc.templates.all()
    )


HOSTILE_TEMPLATE = "{% set a = 'xxxxxxxx' %}" + "{% set a = a ~ a %}" * 26 + "{{ a }}"


def test_template_editor_shows_the_limit_a_hostile_template_hits(qtbot, window: MainWindow) -> None:
    tab = window.messages_panel.templates
    tab.select("running_late/sms/en")
    error = preview(qtbot, tab, HOSTILE_TEMPLATE)
    assert error == (
        "Too big to send — template running_late/sms/en: refused, over its limits: "
        "the text would be longer than the SMS limit of 2,000 characters"
    )
    assert not tab.save.isEnabled() and tab.preview.text() == ""
    # Save pressed before the preview caught up: the save's own check refuses it.
    assert preview(qtbot, tab, "{{ company_name }}: late, now {{ eta }}.") == ""
    tab.body.setPlainText(
        "{% for i in 'x' * 1000 %}{% for j in 'x' * 1000 %}{% endfor %}{% endfor %}"
    )
    with qtbot.waitSignal(tab.save_finished, timeout=10000) as saved:
        qtbot.mouseClick(tab.save, Qt.MouseButton.LeftButton)
    assert saved.args == [False]
    assert "loops ran more than 10,000 times" in tab.error.text()
    assert (
        service(window).templates.get(Situation.RUNNING_LATE, ChannelKind.SMS).version == 2
    )  # nothing installed


def test_a_dispatcher_cannot_change_a_template(window: MainWindow) -> None:
    svc = service(window)
    spec = next(s for s in svc.templates.all() if s.template_id == "running_late/sms/en")
    with pytest.raises(PermissionDenied, match="ann has the dispatcher role and cannot edit"):
        svc.put_template(spec, "ann", {})
    assert max(s.version for s in svc.templates.all() if s.template_id == spec.template_id) == 2


def test_per_stop_history_follows_the_selection(qtbot, window: MainWindow) -> None:
    svc = service(window)
    panel = window.messages_panel
    stop_id, _ = first_late_stop(svc)
    svc.message_stop(stop_id, "late", "ann")
    order_ref = svc.load_contact(stop_id).order_ref
    panel.show_stop_history(stop_id)
    qtbot.waitUntil(lambda: panel.proxy.stop_ref == order_ref, timeout=10000)
    window.selection.select_stop(stop_id + 1, source="test")
    qtbot.waitUntil(lambda: panel.proxy.stop_ref != order_ref, timeout=10000)


def test_the_dock_says_what_the_automation_sent_and_why_and_filters_it(
    qtbot, window: MainWindow
) -> None:
    """An automatic "arriving soon" shows its trigger and reason in "Sent by"; the
    "Automatic only" box (clicked) hides the dispatcher's own message; both are remembered."""
    from dispatcher.messaging.auto import AutoNotifier, AutoSettings
    from dispatcher.persistence import partitions
    from dispatcher.persistence.orm import PositionRow
    from dispatcher.persistence.web_repo import routed_stops_of_day
    from dispatcher_ui.messages.panel import STATE_KEYS, MessagesPanel

    svc = service(window)
    panel = window.messages_panel
    late, _ = first_late_stop(svc)
    message_customer(window, late)  # one by hand, by the window's user
    qtbot.waitUntil(lambda: panel.banner.message_id is not None, timeout=10000)

    now = svc.clock.now()
    route = next(iter(routed_stops_of_day(svc.db, now.astimezone(TZ).date()).values()))
    pending = [sid for sid in route if not svc.load_contact(sid).status.is_final]
    if partitions.is_partitioned(svc.db.engine):
        partitions.ensure_days(svc.db.engine, [partitions.utc_day(now)])
    with svc.db.session() as s:  # the van is at its next stop
        stop = s.get(Stop, pending[0])
        assert stop is not None and stop.route is not None
        s.add(PositionRow(vehicle_id=stop.route.vehicle_id, ts=now, lat=stop.lat, lon=stop.lon))
    sent = AutoNotifier(
        svc, AutoSettings(enabled=True, stops_away=2, eta_within_min=0, route_started=False)
    ).run_once()
    assert any(s.message_id for s in sent), sent

    def shown() -> list[str]:
        window.tick()
        return [panel.model.index(r, Column.SENT_BY).data() for r in range(panel.model.rowCount())]

    qtbot.waitUntil(lambda: "Automatic · arriving soon (next stop)" in shown(), timeout=10000)
    assert window.core.user.id in shown()  # the hand-sent one says who sent it

    assert not panel.auto_only.isChecked()
    panel.auto_only.setFocus()
    qtbot.mouseClick(panel.auto_only, Qt.MouseButton.LeftButton)
    assert panel.auto_only.isChecked()
    visible = [panel.proxy.index(r, Column.SENT_BY).data() for r in range(panel.proxy.rowCount())]
    assert visible and all(v.startswith("Automatic · ") for v in visible)

    if os.environ.get("DISPATCHER_DOCS_SHOTS"):  # the docs' picture of the dock
        panel.auto_only.setChecked(False)
        panel.resize(1500, 420)
        panel.grab().save(str(DOCS / "messages-sent-by.png"))
        panel.auto_only.setChecked(True)

    # Remembered: the setting is stored, and a new dock body comes back with it on.
    panel.view.setColumnWidth(Column.SENT_BY, 333)
    assert window.qsettings.value(STATE_KEYS["auto_only"]) in (True, "true")
    again = MessagesPanel(window, svc)
    qtbot.addWidget(again)
    assert again.auto_only.isChecked() and again.proxy.auto_only
    assert again.view.columnWidth(Column.SENT_BY) == 333
