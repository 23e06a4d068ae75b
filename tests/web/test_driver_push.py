"""The run sheet pushed to the phone when the desk edits the route (issue 20, docs/driver.md).

The desk is the real console (MainWindow on its own Core and engine: another "process" as far
as the web front knows) and its real route board: a stop dropped on another vehicle's board
is saved by the board's worker, and each phone (Chromium, phone viewport) sees its sheet
change through ``/driver/api/stream`` — not through its poll, which runs every 30 s while a
stream is open.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from board_drag import drop_on
from driver_support import route_refs, stop_place
from fleet_zone import DAY
from sqlalchemy import select
from test_driver_app import open_paired, setup

from dispatcher.core import Core
from dispatcher.persistence.orm import Stop
from dispatcher.web.context import WebContext
from dispatcher_ui.main_window import MainWindow
from dispatcher_ui.routes.panel import RoutesPanel

StartWeb = Callable[..., Any]


@pytest.fixture
def desk(db_url: str, demo_core: Callable[..., Core], open_console: Callable[..., Any]) -> Any:
    """The console on the same database as the web front, with its own engine (the web
    context seeds the day: the console opens on an empty database and is told the day)."""
    return open_console(demo_core(db_url, scenario=False), wait=False)


def stop_id(ctx: WebContext, ref: str) -> str:
    with ctx.db.session() as session:
        found = session.scalar(select(Stop.id).where(Stop.order_ref == ref))
    return str(found)


def test_the_desk_moves_a_stop_on_its_board_and_both_sheets_follow(
    start_web: StartWeb,
    web_ctx: WebContext,
    new_page: Callable[..., Any],
    tmp_path: Path,
    qtbot: Any,
    desk: MainWindow,
) -> None:
    service = setup(web_ctx, tmp_path)
    server = start_web(web_ctx)
    one = service.pair("V01", "erika", server.base_url)
    two = service.pair("V02", "erika", server.base_url)
    refs1, refs2 = route_refs(web_ctx.db, "V01"), route_refs(web_ctx.db, "V02")
    phone1 = open_paired(new_page, one.url, stop_place(web_ctx.db, refs1[0]))
    phone2 = open_paired(new_page, two.url, stop_place(web_ctx.db, refs2[0]))
    polled: list[str] = []
    phone1.on("request", lambda r: polled.append(r.url) if "/api/sheet" in r.url else None)
    for phone, refs in ((phone1, refs1), (phone2, refs2)):
        phone.wait_for_selector(f"li.stop[data-ref='{refs[-1]}']")
        phone.wait_for_function("state.streaming === true")
    desk.set_service_day(DAY)  # the day the web context seeded (the day picker's call)
    qtbot.waitUntil(lambda: not desk.routes_loading, timeout=15000)
    panel = desk.routes_panel
    assert isinstance(panel, RoutesPanel)
    controller = panel.controller
    assert controller.day is not None and controller.day.day == DAY

    figures: list[float] = []
    for n, ref in enumerate(refs1[2:5]):  # three moves: the time from save to phone, measured
        polled.clear()
        drop_on(panel.boards["V02"], [stop_id(web_ctx, ref)], 0)
        qtbot.waitUntil(lambda: not controller.saving, timeout=15000)
        saved = time.perf_counter()
        phone1.wait_for_selector(f"li.stop[data-ref='{ref}']", state="detached", timeout=5000)
        figures.append(time.perf_counter() - saved)
        phone2.wait_for_selector(f"li.stop[data-ref='{ref}']", timeout=5000)
        assert phone2.locator("li.stop").first.get_attribute("data-ref") == ref  # on top
        assert phone2.locator("li.stop").count() == len(refs2) + n + 1
        assert phone1.evaluate("state.streaming") is True
        assert polled == []  # it came by the stream: no poll of the sheet meanwhile
    with web_ctx.db.session() as session:
        moved = session.scalars(select(Stop.order_ref).where(Stop.order_ref.in_(refs1[2:5])))
        assert sorted(moved) == sorted(refs1[2:5])
    shown = ", ".join(f"{s * 1000:.0f} ms" for s in figures)
    print(f"\ndesk save → phone ({web_ctx.db.url.split(':')[0]}): {shown}")
    print(f"median {statistics.median(figures) * 1000:.0f} ms")


def sse(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    name = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_stream_is_own_vehicle_only_capped_and_closed_on_unpairing(
    start_web: StartWeb, web_ctx: WebContext, tmp_path: Path
) -> None:
    service = setup(web_ctx, tmp_path)
    web_ctx.services["driver_push_options"] = {"per_device": 1, "total": 2, "heartbeat_s": 0.3}
    server = start_web(web_ctx)
    one = service.pair("V01", "erika", server.base_url)
    two = service.pair("V02", "erika", server.base_url)
    hub = web_ctx.services["driver_push"]
    timeout = httpx.Timeout(10.0)
    with httpx.Client(base_url=server.base_url, timeout=timeout) as client:
        assert client.get("/driver/api/stream").status_code == 401
        forged = {"Authorization": f"Bearer {one.device_id}.{'x' * 32}"}
        assert client.get("/driver/api/stream", headers=forged).status_code == 401

        # another vehicle's phone asks for V01's sheet: it gets its own, whatever it asks
        auth2 = {"Authorization": f"Bearer {two.token}"}
        with client.stream("GET", "/driver/api/stream?vehicle=V01", headers=auth2) as r2:
            assert r2.headers["content-type"].startswith("text/event-stream")
            r2s = sse(r2)  # (one generator per response: a dropped one closes it)
            name, first = next(r2s)
            assert (name, first["vehicle"]) == ("sheet", "V02")

            auth1 = {"Authorization": f"Bearer {one.token}"}
            with client.stream("GET", "/driver/api/stream", headers=auth1) as old:
                olds = sse(old)
                assert next(olds)[1]["vehicle"] == "V01"
                with client.stream("GET", "/driver/api/stream", headers=auth1) as new:
                    news = sse(new)
                    assert next(news)[0] == "sheet"
                    # one stream per phone here: the older one is told to go
                    assert next(olds) == ("bye", {"reason": "replaced"})
                    # two streams overall: a third phone is refused, it keeps polling
                    three = service.pair("V03", "erika", server.base_url)
                    auth3 = {"Authorization": f"Bearer {three.token}"}
                    busy = client.get("/driver/api/stream", headers=auth3)
                    assert busy.status_code == 503 and "polling" in busy.json()["reason"]

                    started = time.perf_counter()
                    service.revoke(one.device_id, "erika")
                    name, said = next(news)
                    assert name == "unpaired" and "unpaired" in said["reason"]
                    assert time.perf_counter() - started < 3.0
                    assert list(news) == []  # the stream ended
            assert client.get("/driver/api/stream", headers=auth1).status_code == 401
            assert [s.vehicle_id for s in hub.streams] == ["V02"]  # V02's lives on
    # every closed stream left the hub (the server noticed the phones going)
    deadline = time.monotonic() + 5
    while hub.streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.streams == []


def test_stop_closes_open_streams_at_once(
    start_web: StartWeb, web_ctx: WebContext, tmp_path: Path
) -> None:
    service = setup(web_ctx, tmp_path)
    server = start_web(web_ctx)
    one = service.pair("V01", "erika", server.base_url)
    auth = {"Authorization": f"Bearer {one.token}"}
    with (
        httpx.Client(base_url=server.base_url, timeout=10.0) as client,
        client.stream("GET", "/driver/api/stream", headers=auth) as r,
    ):
        events = sse(r)
        assert next(events)[0] == "sheet"
        started = time.perf_counter()
        server.stop()
        assert next(events) == ("bye", {"reason": "closing"})
        assert time.perf_counter() - started < 1.5
