"""The Messages dock's Conversation tab: a customer's SMS reply next to what we sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import local
from PySide6.QtCore import QSettings
from routes_wait import wait_for_routes

from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.inbound import receive_sms
from dispatcher.messaging.service import MessagingService
from dispatcher.persistence.orm import Stop
from dispatcher.users.desk import UserDesk
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(sqlite_url: str, tmp_path: Path) -> Iterator[Core]:
    def prepare(core: Core) -> None:
        core.seed_demo_if_empty(vehicles=2, stops=10)
        UserDesk(core.db).login("ann")

    capture = str(tmp_path / "capture.jsonl")
    core = build_core(
        Settings(database_url=sqlite_url, sections={"messaging": {"capture_file": capture}}),
        clock=FakeClock(local(9, 0)),
        prepare=prepare,
    )
    yield core
    core.close()


def test_a_reply_shows_escaped_in_the_selected_stops_conversation(
    qtbot: Any, core: Core, tmp_path: Path
) -> None:
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    wait_for_routes(qtbot, window)
    service = core.service(MessagingService)
    with core.db.session() as s:
        stop = s.query(Stop).filter(Stop.route_id.is_not(None)).order_by(Stop.id).first()
        assert stop is not None
        stop_id = stop.id
    contact = service.load_contact(stop_id)
    service.message_stop(stop_id, "arriving_soon", "ann")
    hostile = "<b>Ring twice</b> & leave it at no. 5"
    receive_sms(core.db, "SM-1", contact.customer.phone, hostile, core.clock.now())

    panel = window.messages_panel
    panel.tabs.setCurrentWidget(panel.conversation)
    window.selection.select_stop(stop_id, source="test")
    tab = panel.conversation
    qtbot.waitUntil(lambda: "1 repl" in tab.title.text(), timeout=10_000)
    text = tab.view.toPlainText()
    assert hostile in text  # shown as typed, not as markup
    assert "Customer" in text and "We" in text
    assert tab.title.text() == f"Stop #{stop_id}: 1 sent, 1 reply"
