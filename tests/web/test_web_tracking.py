"""The customer's tracking page in a real browser (Debian's Chromium through Playwright).

From a message in the outbox to the page; the van appears only once the customer is next;
a new slot picked on the page waits in the exception queue, a dispatcher applies it and the
confirmation goes out through the outbox. A tampered link shows nothing about the order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_day import demo_core, finish, link_in, messaging, route_stops, third_stop, van_at, web_of
from viewports import DESKTOP, PHONE

from dispatcher.alerts.workflow import AlertService
from dispatcher.core import Core
from dispatcher.model.alerts import AlertFilter, AlertKind
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.orm import Stop
from dispatcher.persistence.web_repo import requests_of_stop
from dispatcher.users.desk import UserDesk
from dispatcher.web.requests import CustomerRequests

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Set to write the screenshots into docs/ (else they go to the test's temporary folder).
SHOTS_ENV = "DISPATCHER_DOCS_SHOTS"


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = demo_core(db_url, tmp_path)
    yield core
    core.close()


def test_from_the_outbox_to_the_van_to_a_new_slot_and_its_confirmation(
    core: Core, new_page: Callable[..., Any]
) -> None:
    service = messaging(core)
    stop_id = third_stop(core)
    send = service.message_stop(stop_id, "arriving_soon", "ann")
    assert send.message is not None
    url = link_in(send.message.body)  # the link the customer got by SMS
    order_ref = send.contact.order_ref

    page = new_page(viewport=PHONE)
    page.goto(url)
    assert page.locator("#order-ref").inner_text() == order_ref
    assert page.locator("#position").inner_text() == "2 stops before you."
    assert page.locator("#map-card").is_hidden()  # not near yet: no van, no map

    # The van delivers the two stops before this one and is on its way: it is next.
    now = core.clock.now()
    finish(core, route_stops(core, stop_id)[:2], now - timedelta(minutes=5))
    van_at(core, stop_id, now - timedelta(minutes=1))
    page.wait_for_selector("body[data-van=shown]", timeout=15_000)  # the page polls
    assert page.locator("#position").inner_text() == "You are next!"
    assert page.locator("#map-card").is_visible()
    assert page.locator(".van-icon").count() == 1 and page.locator(".home-icon").count() == 1

    # Pick another slot: only ones the planner can serve are offered.
    page.click("#change-slot")
    page.wait_for_selector("#slot-form")
    first = page.locator("input[name=slot]").first
    chosen = first.get_attribute("value")
    first.check()
    page.click("#request-slot")
    page.wait_for_selector("#flash")
    assert "with our dispatcher" in page.locator("#flash").inner_text()

    # The request waits in the console's exception queue...
    ann = UserDesk(core.db).login("ann")
    with core.db.session() as session:
        alerts = AlertService(SqlAlertStore(session), core.clock).list_alerts(
            ann, AlertFilter(kinds=frozenset({AlertKind.CUSTOMER_REQUEST}))
        )
    assert len(alerts) == 1 and order_ref in alerts[0].title
    (request,) = requests_of_stop(core.db, stop_id)
    assert request.status == "queued" and request.payload["start"] == chosen

    # ... a dispatcher applies it: the stop gets the window, the customer a confirmation.
    requests = CustomerRequests(core.db, core.clock, core.fleet.timezone, messaging=service)
    requests.apply(request.id, ann)
    with core.db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None and stop.window_start is not None
        assert stop.window_start == datetime.fromisoformat(str(chosen))
    sent = [m for m in service.history(order_ref) if m.situation == "free_text"]
    assert len(sent) == 1 and "now planned for" in sent[0].body
    assert link_in(sent[0].body)  # the confirmation carries the link again
    with core.db.session() as session:
        assert (
            AlertService(SqlAlertStore(session), core.clock)
            .list_alerts(ann, AlertFilter(kinds=frozenset({AlertKind.CUSTOMER_REQUEST})))[0]
            .status.value
            == "resolved"
        )


def test_a_tampered_link_shows_nothing_about_the_order(core: Core, page: Any) -> None:
    service = messaging(core)
    stop_id = third_stop(core)
    send = service.message_stop(stop_id, "arriving_soon", "ann")
    assert send.message is not None
    url = link_in(send.message.body)
    token = url.rsplit("/", 1)[1]
    tampered = url[: -len(token)] + token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    response = page.goto(tampered)
    assert response.status == 404
    text = page.content()
    assert send.contact.order_ref not in text and send.contact.address not in text
    assert page.locator("#not-found").is_visible()
    for suffix in ("/status", "/slots"):
        assert httpx.get(tampered + suffix).status_code == 404


def test_screenshots_of_the_tracking_page_on_a_phone_and_a_desktop(
    core: Core, new_page: Callable[..., Any], tmp_path: Path
) -> None:
    service = messaging(core)
    stop_id = third_stop(core)
    send = service.message_stop(stop_id, "arriving_soon", "ann")
    assert send.message is not None
    url = link_in(send.message.body)
    now = core.clock.now()
    finish(core, route_stops(core, stop_id)[:2], now - timedelta(minutes=5))
    van_at(core, stop_id, now - timedelta(minutes=1))
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(viewport=viewport)
        page.goto(url)
        page.wait_for_selector("body[data-van=shown]", timeout=15_000)
        page.wait_for_timeout(300)
        folder = DOCS if os.environ.get(SHOTS_ENV) else tmp_path
        page.screenshot(path=str(folder / f"web-tracking-{name}.png"), full_page=True)
        assert (folder / f"web-tracking-{name}.png").stat().st_size > 10_000
    assert web_of(core).base_url.startswith("http://127.0.0.1:")


def test_instructions_are_saved_escaped_and_forms_need_their_csrf_token(
    core: Core, page: Any
) -> None:
    service = messaging(core)
    stop_id = third_stop(core)
    send = service.message_stop(stop_id, "arriving_soon", "ann")
    assert send.message is not None
    url = link_in(send.message.body)
    hostile = '<img src=x onerror="document.title=1">behind the <b>gate</b>'
    page.goto(url)
    page.select_option("#kind", "safe_place")
    page.fill("#text", hostile)
    page.click("#save-instructions")
    page.wait_for_selector("#flash")
    assert page.locator("#instructions").inner_text() == f"Safe place: {hostile}"
    assert page.locator("#instructions img").count() == 0 and page.title() != "1"
    with core.db.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None and f"Customer: Safe place: {hostile}" in stop.notes
    assert any("delivery instructions" in m.body for m in service.history(send.contact.order_ref))
    # Without the form's token, or from another site, nothing is saved.
    assert httpx.post(url + "/not-home", data={}).status_code == 403
    csrf = page.locator("#not-home-form input[name=csrf]").get_attribute("value")
    evil = {"Origin": "https://evil.example"}
    assert httpx.post(url + "/not-home", data={"csrf": csrf}, headers=evil).status_code == 403
    assert requests_of_stop(core.db, stop_id)[0].kind == "safe_place"
    page.click("#not-home")
    page.wait_for_selector("#flash")
    assert [r.kind for r in requests_of_stop(core.db, stop_id)] == ["not_home", "safe_place"]
