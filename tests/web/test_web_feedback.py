"""The feedback step after delivery: rated on the tracking page, summed in the KPIs.

A real browser on a phone viewport rates a delivered stop and sees the thank-you; the
ratings reach the period view's average (hand-calculated); a low one raises an exception;
hostile input (bad ratings, a 10 kB comment, HTML, a replayed form, a tampered link) is
refused cleanly and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from demo_day import demo_core, finish, link_in, messaging, route_stops, third_stop
from viewports import PHONE

from dispatcher.alerts.workflow import AlertService
from dispatcher.core import Core
from dispatcher.kpi.period import load_period
from dispatcher.model.alerts import AlertFilter, AlertKind
from dispatcher.persistence import feedback_repo
from dispatcher.persistence.alert_repo import SqlAlertStore
from dispatcher.persistence.orm import AuditEntry, Stop
from dispatcher.support.card import order_card
from dispatcher.users.desk import UserDesk

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHOTS_ENV = "DISPATCHER_DOCS_SHOTS"


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = demo_core(db_url, tmp_path)
    yield core
    core.close()


def link_of(core: Core, stop_id: int) -> str:
    """The customer's tracking link, as every message to them carries it."""
    url = messaging(core).link_for(stop_id)
    assert url is not None
    return link_in(url)


def delivered(core: Core, stop_id: int) -> None:
    finish(core, [stop_id], core.clock.now() - timedelta(minutes=3))


def post(url: str, data: dict[str, str]) -> httpx.Response:
    return httpx.post(url, data=data, follow_redirects=False)


def csrf_of(url: str) -> str:
    """The feedback form's CSRF token, read from the page as a browser would."""
    html = httpx.get(url).text
    marker = 'name="csrf" value="'
    start = html.index(marker, html.index('id="feedback-form"')) + len(marker)
    return html[start : html.index('"', start)]


def low_alerts(core: Core) -> list[Any]:
    ann = UserDesk(core.db).login("ann")
    with core.db.session() as session:
        return AlertService(SqlAlertStore(session), core.clock).list_alerts(
            ann, AlertFilter(kinds=frozenset({AlertKind.LOW_RATING}))
        )


def test_a_customer_rates_a_delivered_stop_on_a_phone_and_sees_the_thank_you(
    core: Core, new_page: Callable[..., Any], tmp_path: Path
) -> None:
    stop_id = third_stop(core)
    url = link_of(core, stop_id)
    page = new_page(viewport=PHONE)
    page.goto(url)
    assert page.locator("#feedback").count() == 0  # not delivered yet: nothing to rate

    delivered(core, stop_id)
    page.wait_for_selector("#feedback-form", timeout=15_000)  # the open page notices
    page.click("label[for=star-4]")
    page.fill("#comment", "Friendly driver, <b>box</b> a bit dented")
    folder = DOCS if os.environ.get(SHOTS_ENV) else tmp_path
    page.screenshot(path=str(folder / "web-feedback-phone.png"), full_page=True)
    page.click("#send-feedback")
    page.wait_for_selector("#flash")
    assert "Thank you for your feedback" in page.locator("#flash").inner_text()
    assert page.locator("#given-rating").inner_text() == "4 out of 5"
    assert page.locator("#feedback-form").count() == 0  # once per order
    page.screenshot(path=str(folder / "web-feedback-thanks-phone.png"), full_page=True)

    stored = feedback_repo.feedback_of_stop(core.db, stop_id)
    assert stored is not None and stored.rating == 4
    assert stored.comment == "Friendly driver, <b>box</b> a bit dented"  # kept as text
    with core.db.session() as session:
        audit = session.query(AuditEntry).filter_by(action="customer_feedback.add").one()
        assert audit.actor == "customer" and audit.entity_id == str(stop_id)
    assert low_alerts(core) == []  # a 4 is not a complaint


def test_ratings_reach_the_period_average_and_a_low_one_raises_an_exception(
    core: Core,
) -> None:
    stop_id = third_stop(core)
    stops = route_stops(core, stop_id)[:3]
    finish(core, stops, core.clock.now() - timedelta(minutes=10))
    for sid, (rating, comment) in zip(
        stops, [("5", ""), ("4", "ok"), ("2", "late and <i>rude</i>")], strict=True
    ):
        url = link_of(core, sid)
        answer = post(
            url + "/feedback", {"csrf": csrf_of(url), "rating": rating, "comment": comment}
        )
        assert answer.status_code == 303 and answer.headers["location"].endswith("?m=feedback")

    tz = ZoneInfo(core.fleet.timezone)
    day = core.clock.now().astimezone(tz).date()
    period = load_period(core.db, tz, "day", day, "fleet", core.clock.now())
    total = period.fleet_total()
    assert total is not None
    assert total.row.ratings == 3 and total.row.rating_sum == 11
    assert total.avg_rating == pytest.approx((5 + 4 + 2) / 3)  # 3.67
    with core.db.session() as session:
        vehicle = session.get(Stop, stop_id).route.vehicle_id  # type: ignore[union-attr]  # routed stop
    by_vehicle = load_period(core.db, tz, "week", day, "vehicle", core.clock.now())
    (mine,) = [r for r in by_vehicle.totals if r.key == vehicle]
    assert (mine.rating_sum, mine.ratings) == (11, 3)
    assert all(r.ratings == 0 for r in by_vehicle.totals if r.key != vehicle)

    (alert,) = low_alerts(core)  # only the 2 (≤ [web] low_rating) reaches the queue
    assert "rated 2/5" in alert.title and alert.details["comment"] == "late and <i>rude</i>"
    assert alert.stop_id == str(stops[2])

    # The order's card (Where is my order) shows it, with the exception it raised.
    card = order_card(core.db, UserDesk(core.db).login("ann"), stops[2])
    assert card is not None and not card.problems
    (item,) = [i for i in card.items if i.kind == "feedback"]
    assert item.text == f"customer rated 2/5 ★★☆☆☆ — exception #{alert.id}"
    assert item.detail == "late and <i>rude</i>"


def test_hostile_feedback_is_refused_cleanly(core: Core) -> None:
    stop_id = third_stop(core)
    url = link_of(core, stop_id)
    html = httpx.get(url).text
    assert 'id="feedback-form"' not in html
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    early = html[start : html.index('"', start)]
    # Not delivered yet: no feedback taken, even with a valid form token.
    answer = post(url + "/feedback", {"csrf": early, "rating": "5"})
    assert answer.headers["location"].endswith("?m=invalid")

    delivered(core, stop_id)
    import time

    time.sleep(2.1)  # the shared view lives two seconds
    csrf = csrf_of(url)
    for bad in ("0", "6", "abc", "4.5", "", "-1", "55", "\u0663"):
        answer = post(url + "/feedback", {"csrf": csrf, "rating": bad})
        assert answer.status_code == 303, bad
        assert answer.headers["location"].endswith("?m=rating"), bad
    answer = post(url + "/feedback", {"csrf": csrf, "rating": "3", "comment": "x" * 10_000})
    assert answer.headers["location"].endswith("?m=long")
    assert feedback_repo.feedback_of_stop(core.db, stop_id) is None

    # No token, a forged one, another site: forbidden, nothing stored.
    assert post(url + "/feedback", {"rating": "1"}).status_code == 403
    assert post(url + "/feedback", {"csrf": csrf[:-2] + "xx", "rating": "1"}).status_code == 403
    evil = httpx.post(
        url + "/feedback",
        data={"csrf": csrf, "rating": "1"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403
    # A tampered link: 404 with nothing about the order.
    token = url.rsplit("/", 1)[1]
    tampered = url[: -len(token)] + token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert post(tampered + "/feedback", {"csrf": csrf, "rating": "1"}).status_code == 404
    assert feedback_repo.feedback_of_stop(core.db, stop_id) is None

    hostile = '<script>alert(1)</script><img src=x onerror="x()">'
    ok = post(url + "/feedback", {"csrf": csrf, "rating": "3", "comment": hostile})
    assert ok.headers["location"].endswith("?m=feedback")
    # The same form again (a replay, a second tab): refused, the first answer stands.
    again = post(url + "/feedback", {"csrf": csrf, "rating": "1", "comment": "changed"})
    assert again.headers["location"].endswith("?m=feedback_twice")
    stored = feedback_repo.feedback_of_stop(core.db, stop_id)
    assert stored is not None and (stored.rating, stored.comment) == (3, hostile)
    page = httpx.get(url + "?m=feedback").text
    assert "<script>alert(1)" not in page and "onerror" not in page
    assert low_alerts(core) == []
