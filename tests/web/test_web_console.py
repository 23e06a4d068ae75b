"""The whole loop with the real console: a standalone console serves the web front, the
customer picks a new slot in Chromium, the request shows in the console's exception queue,
the dispatcher applies it with its key, the confirmation is in the outbox and on the page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_day import finish, link_in, route_stops, third_stop, van_at
from fleet_zone import local
from PySide6.QtCore import QSettings, Qt
from viewports import PHONE

from dispatcher.app import build_core
from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.core import Core
from dispatcher.messaging.service import MessagingService
from dispatcher.model.alerts import AlertKind
from dispatcher.users.desk import UserDesk
from dispatcher.web.server import WebServer
from dispatcher_ui.main_window import MainWindow


@pytest.fixture
def core(sqlite_url: str, tmp_path: Path) -> Iterator[Core]:
    def prepare(core: Core) -> None:
        core.seed_demo_if_empty(vehicles=2, stops=12)
        UserDesk(core.db).login("ann")  # the first login: admin

    settings = Settings(
        database_url=sqlite_url,
        sections={
            "messaging": {
                "capture_file": str(tmp_path / "capture.jsonl"),
                "undo_seconds": 0,
                "company_name": "Acme Parcels",
            },
            "web": {"listen": "127.0.0.1:0", "near_stops": 0, "poll_s": 1},
        },
    )
    core = build_core(settings, clock=FakeClock(local(9, 0)), prepare=prepare)
    yield core
    core.close()


def test_a_slot_picked_on_the_page_is_applied_from_the_consoles_queue(
    qtbot: Any, core: Core, tmp_path: Path, new_page: Callable[..., Any]
) -> None:
    assert core.find_service(WebServer) is not None  # the standalone console serves it
    window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    service = core.service(MessagingService)
    stop_id = third_stop(core)
    send = service.message_stop(stop_id, "arriving_soon", "ann")
    assert send.message is not None
    url = link_in(send.message.body)

    page = new_page(viewport=PHONE)
    page.goto(url)
    assert page.locator("#map-card").is_hidden()
    now = core.clock.now()
    finish(core, route_stops(core, stop_id)[:2], now - timedelta(minutes=5))
    van_at(core, stop_id, now - timedelta(minutes=1))
    page.wait_for_selector("body[data-van=shown]", timeout=15_000)
    page.click("#change-slot")
    slot = page.locator("input[name=slot]").first
    label = page.locator("label.slot").first.inner_text().strip()
    slot.check()
    page.click("#request-slot")
    page.wait_for_selector("#flash")

    queue = window.exceptions_panel
    qtbot.waitUntil(lambda: queue.user.name != "identifying you…", timeout=15_000)

    # The request's exception is announced on the console's loop (the UI tick, which the
    # window's timer runs only with live telemetry: here the test ticks) and the queue
    # reloads itself.
    def request_shown() -> bool:
        window.tick()
        return any(a.kind is AlertKind.CUSTOMER_REQUEST for a in queue.model.alerts())

    qtbot.waitUntil(request_shown, timeout=15_000)
    rows = [
        a for a in queue.model.alerts() if a.kind is AlertKind.CUSTOMER_REQUEST and a.id is not None
    ]
    assert len(rows) == 1 and send.contact.order_ref in rows[0].title
    assert rows[0].id is not None and queue.select_alert(rows[0].id)
    window.activateWindow()
    queue.view.setFocus()
    qtbot.keyClick(queue.view, Qt.Key.Key_P)  # "Apply customer request"
    qtbot.waitUntil(lambda: "Applied" in queue.message.text(), timeout=15_000)
    assert queue.message.text() == "Applied the customer's request; they are told by message."

    sent = [m for m in service.history(send.contact.order_ref) if m.situation == "free_text"]
    assert len(sent) == 1 and "now planned for" in sent[0].body and label in sent[0].body
    # The open page shows the new window by itself (its next poll after the view's 2 s cache).
    page.wait_for_function(
        "label => document.getElementById('window').textContent === label", arg=label
    )
