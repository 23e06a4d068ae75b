"""The driver app writes times and dates as the fleet does ([fleet] locale and time zone), not
as the phone's language does: a Finnish fleet's driver reads 14.05 even on an English phone."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from driver_support import route_refs, stop_place
from fleet_zone import DAY, demo_day
from sqlalchemy import select

from dispatcher import display
from dispatcher.driver.podstore import PodStore
from dispatcher.driver.service import DriverService
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.orm import Stop
from dispatcher.web.context import WebContext

PHONE = {"width": 390, "height": 844}
StartWeb = Callable[..., Any]
TIME_RANGE = re.compile(r"^(\S+ ?\S*)–(\S+ ?\S*) · ")


# ``web_ctx`` before ``start_web`` in a test's arguments: the server stops (and its requests
# give their connections back) before the database is disposed.
def open_sheet(
    start_web: StartWeb, ctx: WebContext, new_page: Callable[..., Any], tmp_path: Path
) -> tuple[Any, str, Stop]:
    """The V01 phone's page on an English (en-US) phone, the run sheet shown; the page,
    the server's URL and the first stop that has a time window."""
    with ctx.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    service = DriverService(ctx.db, PodStore(tmp_path / "pod"), clock=ctx.clock)
    ctx.services["driver"] = service
    server = start_web(ctx)
    pairing = service.pair("V01", "erika", server.base_url)
    refs = route_refs(ctx.db, "V01")
    with ctx.db.session() as session:
        stop = session.scalars(
            select(Stop).where(Stop.order_ref.in_(refs), Stop.window_start.is_not(None))
        ).first()
        assert stop is not None, "the demo day has time windows"
        session.expunge(stop)
    page = new_page(
        viewport=PHONE,
        is_mobile=True,
        locale="en-US",  # the phone's language: what the app used to follow
        permissions=["geolocation"],
        geolocation=dict(zip(("latitude", "longitude"), stop_place(ctx.db, refs[0]), strict=True)),
    )
    page.goto(pairing.url)
    page.wait_for_selector(f"li.stop[data-ref='{stop.order_ref}']")
    with httpx.Client(base_url=server.base_url) as client:
        sheet = client.get(
            "/driver/api/sheet", headers={"Authorization": f"Bearer {pairing.token}"}
        ).json()
    assert sheet["locale"] == display.language_tag(ctx.locale)
    return page, server.base_url, stop


def window_text(page: Any, stop: Stop) -> str:
    meta = page.locator(f"li.stop[data-ref='{stop.order_ref}'] .meta").first.inner_text()
    assert TIME_RANGE.match(meta), meta
    return str(meta)


def fleet_clock(stop: Stop, locale: str | None, zone: str) -> str:
    """The window's start as the console writes it for ``locale`` in the fleet's zone."""
    from zoneinfo import ZoneInfo

    assert stop.window_start is not None
    start = stop.window_start.astimezone(ZoneInfo(zone))
    return display.Display(locale=locale).clock(start)


def test_a_finnish_fleet_reads_a_24_hour_clock_on_an_english_phone(
    web_ctx: WebContext, start_web: StartWeb, new_page: Callable[..., Any], tmp_path: Path
) -> None:
    web_ctx.locale = "fi_FI"
    page, _, stop = open_sheet(start_web, web_ctx, new_page, tmp_path)
    text = window_text(page, stop)
    start = TIME_RANGE.match(text)
    assert start is not None
    assert "AM" not in text and "PM" not in text
    assert re.fullmatch(r"\d{2}[.:]\d{2}", start.group(1)), text
    # the same clock the console shows the desk, in the fleet's zone (not the phone's)
    assert start.group(1).replace(":", ".") == fleet_clock(stop, "fi_FI", web_ctx.timezone)
    title = page.locator("#title").inner_text()
    assert f"{DAY.day}.{DAY.month}.{DAY.year}" in title, title  # Finnish date, not ISO
    shots = Path(tempfile.gettempdir()) / "dispatcher-driver-shots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "driver-locale-fi.png"))


@pytest.mark.parametrize(
    ("locale", "twelve_hour"), [("en_US", True), ("de_DE", False), (None, False)]
)
def test_the_clock_follows_the_fleet_locale(
    web_ctx: WebContext,
    start_web: StartWeb,
    new_page: Callable[..., Any],
    tmp_path: Path,
    locale: str | None,
    twelve_hour: bool,
) -> None:
    web_ctx.locale = locale
    page, _, stop = open_sheet(start_web, web_ctx, new_page, tmp_path)
    text = window_text(page, stop)
    assert ("AM" in text or "PM" in text) is twelve_hour, text
    if locale is None:  # the console's own conventions: 24-hour clock, ISO day
        assert TIME_RANGE.match(text) and fleet_clock(stop, None, web_ctx.timezone) in text
        assert DAY.isoformat() in page.locator("#title").inner_text()
