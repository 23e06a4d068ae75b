"""The tracking page's push channel, ``/t/<token>/stream`` (docs/web.md, issue 19).

A live web front on the demo day (SQLite and PostgreSQL): the stream sends the order's view
at once and again when the fleet changes it (a stop before it delivered, written straight
into the database as another process would); a tampered link gets the same 404 as the page;
a stream ends with ``gone`` when its link expires; the open streams are bounded per link and
per address, and every page shares one view per order.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from demo_day import demo_core, finish, route_stops, third_stop, web_of

from dispatcher.clock import FakeClock
from dispatcher.core import Core
from dispatcher.persistence.track_repo import track_marks
from dispatcher.web.links import TRACK
from dispatcher.web.track_push import TrackHub
from dispatcher.web.tracking import tracking_snapshot


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = demo_core(db_url, tmp_path, streams_per_ip=3)
    yield core
    core.close()


def hub(core: Core) -> TrackHub:
    found = web_of(core).ctx.services["track_push"]
    assert isinstance(found, TrackHub)
    return found


def link(core: Core, stop_id: int, valid: timedelta = timedelta(days=1)) -> str:
    ctx = web_of(core).ctx
    token = ctx.signer.sign(TRACK, stop_id, core.clock.now() + valid)
    return f"{web_of(core).base_url}/t/{token}"


class Listener:
    """Reads one stream on a thread (a plain socket, so :meth:`close` really hangs up): its
    status and its events as ``(name, data)``, in order."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.status = 0
        self.ended = threading.Event()
        parts = urlsplit(url)
        self._sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        head = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        self._sock.sendall(f"{head}Connection: close\r\n\r\n".encode())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            lines = self._sock.makefile("rb")
            self.status = int(lines.readline().split()[1])
            name = "message"
            for raw in lines:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))
                    name = "message"
        except (OSError, ValueError):
            pass
        finally:
            self.ended.set()

    def wait_for(self, test: Any, timeout: float = 10.0) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if test(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no such event in {self.events}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)


def test_the_stream_sends_the_view_then_the_fleets_change(core: Core) -> None:
    stop_id = third_stop(core)
    listener = Listener(link(core, stop_id) + "/stream")
    try:
        _, view = listener.wait_for(lambda e: e[0] == "view")
        assert listener.status == 200
        assert view["position_text"] == "2 stops before you."
        assert "route_id" not in view and "vehicle_id" not in view  # bookkeeping stays home
        # The van delivers the stop before this one (another process: straight to the DB).
        changed = time.monotonic()
        finish(core, route_stops(core, stop_id)[:1], core.clock.now())
        _, later = listener.wait_for(lambda e: e[0] == "view" and e[1]["stops_before"] == 1)
        assert later["position_text"] == "1 stop before you."
        assert time.monotonic() - changed < 3.0  # pushed, not polled
    finally:
        listener.close()
    deadline = time.monotonic() + 5
    while hub(core).count and time.monotonic() < deadline:  # the closed stream is let go
        time.sleep(0.05)
    assert hub(core).count == 0


def test_a_tampered_link_gets_404_and_no_stream(core: Core) -> None:
    url = link(core, third_stop(core))
    token = url.rsplit("/", 1)[1]
    bad = url[: -len(token)] + token[:12] + ("A" if token[12] != "A" else "B") + token[13:]
    response = httpx.get(bad + "/stream", timeout=10)
    assert response.status_code == 404
    assert "text/event-stream" not in response.headers.get("content-type", "")
    assert hub(core).count == 0


def test_the_stream_ends_when_the_link_expires(core: Core) -> None:
    hub(core).heartbeat_s = 0.2  # the expiry is checked at each heartbeat
    stop_id = third_stop(core)
    url = link(core, stop_id, valid=timedelta(minutes=5))
    listener = Listener(url + "/stream")
    try:
        listener.wait_for(lambda e: e[0] == "view")
        clock = core.clock
        assert isinstance(clock, FakeClock)
        clock.advance(minutes=6)
        listener.wait_for(lambda e: e[0] == "gone")
        assert listener.ended.wait(5)
    finally:
        listener.close()
    assert httpx.get(url + "/stream", timeout=10).status_code == 404  # and no new one


def test_streams_are_bounded_per_address_and_pages_share_one_view(core: Core) -> None:
    stops = route_stops(core, third_stop(core))
    listeners = [Listener(link(core, sid) + "/stream") for sid in stops[:3]]
    try:
        for listener in listeners:
            listener.wait_for(lambda e: e[0] == "view")
        refused = httpx.get(link(core, stops[3]) + "/stream", timeout=10)
        assert refused.status_code == 429  # [web] streams_per_ip = 3: this page polls
        status = httpx.get(link(core, stops[3]) + "/status", timeout=10)
        assert status.status_code == 200 and status.json()["order_ref"]
        # One route, four orders: their views were read together and are shared.
        routes = {hub(core).entries[sid].route_id for sid in stops[:4]}
        assert len(routes) == 1
    finally:
        for listener in listeners:
            listener.close()


def test_the_markers_read_with_the_views_are_the_watchers(core: Core) -> None:
    """The watcher's first look at a route just read is not taken for a change (else every
    route would be read twice as pages arrive): both reads describe the same rows alike."""
    stop_id = third_stop(core)
    now = core.clock.now()
    tz = core.fleet.timezone
    views, marks = tracking_snapshot(core.db, [stop_id], now, tz, near_stops=0, whole_routes=True)
    assert marks is not None and len(views) == len(route_stops(core, stop_id))
    routes = {v.route_id for v in views.values() if v.route_id is not None}
    since = now - timedelta(minutes=20)
    assert marks.routes == track_marks(core.db, routes, [], [], since).routes
    finish(core, route_stops(core, stop_id)[:1], now)  # and a change is one
    assert marks.routes != track_marks(core.db, routes, [], [], since).routes
