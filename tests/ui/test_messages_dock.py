"""One click on a late stop: a running-late message with the fresh ETA, shown as sent.

The window runs on the demo day under a FakeClock at 11:00 Berlin, with the real messaging
service (SQL outbox, relay worker thread, capture channel). Time only moves when the test
says so, so the undo window is passed by advancing the clock, not by sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from fleet_zone import TZ, local
from PySide6.QtCore import QSettings

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.outbox import OutboxStatus
from dispatcher.messaging.service import MessagingService, install_messaging
from dispatcher.messaging.settings import MessagingSettings
from dispatcher.messaging.stop_facts import fresh_eta, is_late
from dispatcher.persistence.orm import Stop
from ui.main_window import MainWindow
from ui.messages.actions import message_customer
from ui.messages.outbox_model import Column, OutboxModel


@pytest.fixture
def core(sqlite_url: str, tmp_path: Path) -> Iterator[Core]:
    clock = FakeClock(local(11, 0))
    capture = str(tmp_path / "capture.jsonl")
    core = Core(
        Settings(database_url=sqlite_url, sections={"messaging": {"capture_file": capture}}),
        clock=clock,
    )
    core.seed_demo_if_empty()

    def fast(settings: MessagingSettings) -> MessagingSettings:
        return replace(settings, undo_seconds=8.0, poll_seconds=0.1)

    install_messaging(core, configure=fast)
    yield core
    core.close()


@pytest.fixture
def window(qtbot, core: Core, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    return win


def service(window: MainWindow) -> MessagingService:
    from ui.messages.actions import messaging_service

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


def test_one_click_on_a_late_stop_is_sent_with_the_right_eta(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    svc = service(window)
    panel = window.messages_panel  # type: ignore[attr-defined]
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
    assert panel.model.index(row, Column.TEMPLATE).data() == "running late v1"
    assert panel.model.index(row, Column.CUSTOMER).data() not in ("", "—")
    capture = Path(svc.settings.capture_path).read_text().splitlines()
    assert len(capture) == 1 and eta_text in json.loads(capture[0])["text"]


def test_double_click_makes_one_row(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
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
    return window.statusBar().currentMessage() + window.messages_panel.banner.title.text()  # type: ignore[attr-defined]


def test_undo_cancels_the_message(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    svc = service(window)
    panel = window.messages_panel  # type: ignore[attr-defined]
    stop_id, _ = first_late_stop(svc)
    message_customer(window, stop_id)
    qtbot.waitUntil(lambda: panel.banner.message_id is not None, timeout=10000)
    assert panel.banner.undo.isEnabled()
    panel.banner.undo.click()
    qtbot.waitUntil(lambda: panel.banner.undo.text() == "Cancelled", timeout=10000)
    assert [r.status for r in svc.store.list()] == [OutboxStatus.CANCELLED]


def test_the_outbox_model_passes_the_model_tester(qtmodeltester, qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    svc = service(window)
    stop_id, _ = first_late_stop(svc)
    svc.message_stop(stop_id, "late", "ann")
    model = OutboxModel()
    model.set_rows(svc.store.list(), {})
    qtmodeltester.check(model)
    assert model.rowCount() == 1


def test_template_editor_names_the_bad_variable_and_refuses_injection(window: MainWindow) -> None:
    tab = window.messages_panel.templates  # type: ignore[attr-defined]
    tab.select("running_late/sms/en")
    tab.body.setPlainText("Hi {{ reschedule_url }}")
    tab.update_preview()
    assert "reschedule_url" in tab.error.text() and not tab.save.isEnabled()
    tab.body.setPlainText("{{ ''.__class__ }}")
    tab.update_preview()
    assert tab.error.text().startswith("Does not render")
    tab.body.setPlainText("{{ company_name }}: late again, now {{ eta }}.")
    tab.update_preview()
    assert tab.error.text() == "" and "GSM-7" in tab.segments.text()
    assert tab.save_current()
    svc = service(window)
    assert svc.templates.all() and any(
        s.template_id == "running_late/sms/en" and s.version == 2 for s in svc.templates.all()
    )


def test_per_stop_history_follows_the_selection(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    svc = service(window)
    panel = window.messages_panel  # type: ignore[attr-defined]
    stop_id, _ = first_late_stop(svc)
    svc.message_stop(stop_id, "late", "ann")
    order_ref = svc.load_contact(stop_id).order_ref
    panel.show_stop_history(stop_id)
    qtbot.waitUntil(lambda: panel.proxy.stop_ref == order_ref, timeout=10000)
    window.selection.select_stop(stop_id + 1, source="test")
    qtbot.waitUntil(lambda: panel.proxy.stop_ref != order_ref, timeout=10000)
