"""A worker process of the web front (``[web] workers``, dispatcher/web/workers.py).

The worker is spawned on a socket only it accepts on, so every request here is its answer:
it builds its own core from the settings, verifies links with the keys in the database,
pushes a change the desk saves in another process to the page's stream, refuses a tampered
link, hands the exceptions its requests raise to the serving process, and stops when told.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from demo_day import demo_core, finish, route_stops, third_stop
from test_track_push import Listener, link

from dispatcher.app import serve_web_worker
from dispatcher.core import Core
from dispatcher.web.workers import Workers, bind

#: The worker runs on the real clock, the demo day on the suite's: a link valid for years.
YEARS = timedelta(days=3650)


def on_worker(base: str, url: str) -> str:
    """The tracking ``url`` (of the serving process) at the worker's address."""
    return f"{base}/t/{url.rsplit('/t/', 1)[1]}"


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = demo_core(db_url, tmp_path)
    yield core
    core.close()


@pytest.fixture
def worker(core: Core) -> Iterator[tuple[Workers, str]]:
    sock = bind("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    workers = Workers(1, sock, core.settings, base, main=serve_web_worker)
    try:
        deadline = time.monotonic() + 60
        while True:  # spawning imports the app: a few seconds
            try:
                if httpx.get(base + "/healthz", timeout=5).text == "ok":
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or not workers.alive():
                    raise
                time.sleep(0.2)
        yield workers, base
    finally:
        workers.stop()
        sock.close()
    assert workers.alive() == 0


def test_a_worker_serves_pages_and_streams_from_the_shared_database(
    core: Core, worker: tuple[Workers, str]
) -> None:
    _, base = worker
    stop_id = third_stop(core)
    url = on_worker(base, link(core, stop_id, valid=YEARS))
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "2 stops before you." in page.text
    token = url.rsplit("/", 1)[1]
    bad = url[: -len(token)] + token[:12] + ("A" if token[12] != "A" else "B") + token[13:]
    assert httpx.get(bad, timeout=10).status_code == 404
    listener = Listener(url + "/stream")
    try:
        listener.wait_for(lambda e: e[0] == "view" and e[1]["stops_before"] == 2)
        finish(core, route_stops(core, stop_id)[:1], core.clock.now())  # saved elsewhere
        listener.wait_for(lambda e: e[0] == "view" and e[1]["stops_before"] == 1)
    finally:
        listener.close()


def test_an_exception_raised_in_a_worker_reaches_the_serving_process(
    core: Core, worker: tuple[Workers, str]
) -> None:
    workers, base = worker
    stop_id = third_stop(core)
    finish(core, [stop_id], core.clock.now() - timedelta(minutes=5))
    url = on_worker(base, link(core, stop_id, valid=YEARS))
    html = httpx.get(url, timeout=10).text
    marker = 'name="csrf" value="'
    start = html.index(marker, html.index('id="feedback-form"')) + len(marker)
    csrf = html[start : html.index('"', start)]
    answer = httpx.post(url + "/feedback", data={"csrf": csrf, "rating": "1"}, timeout=10)
    assert answer.status_code == 303 and answer.headers["location"].endswith("?m=feedback")
    deadline = time.monotonic() + 10
    raised: set[int] = set()
    while not raised and time.monotonic() < deadline:
        raised = workers.take_alerts()
        time.sleep(0.1)
    assert len(raised) == 1  # the serving process's tick announces it on its bus
