"""Shared fixtures of the web front's tests: a live uvicorn server and a real Chromium.

* ``web_ctx`` — a :class:`WebContext` on the parametrized ``database`` (SQLite and
  PostgreSQL) with a :class:`FakeClock` at 09:00 fleet time on the suite's day;
* ``start_web`` — start a real :class:`WebServer` (uvicorn, own thread) on a free loopback
  port for a context (and optional route groups); stopped after the test;
* ``web`` — ``start_web(web_ctx)`` with every audience's routes;
* ``browser`` — Debian's Chromium driven by Playwright (session-wide, never downloaded);
* ``page`` — a fresh browser context and page per test (phone- or desktop-sized with
  ``new_page(viewport=...)``).

No test reaches the internet: the pages load nothing from another origin (the CSP says so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fleet_zone import utc
from viewports import DESKTOP

from dispatcher.clock import FakeClock
from dispatcher.config import Settings
from dispatcher.persistence.database import Database
from dispatcher.web.app import RouteGroup
from dispatcher.web.context import WebContext
from dispatcher.web.server import WebServer
from dispatcher.web.settings import WebSettings
from dispatcher.web.signing import LinkSigner

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def web_clock() -> FakeClock:
    return FakeClock(utc(9, 0))


@pytest.fixture
def web_ctx(database: Database, web_clock: FakeClock, fleet_tz: Any) -> WebContext:
    settings = Settings(database_url=database.url)
    return WebContext(
        db=database,
        clock=web_clock,
        settings=settings,
        web=WebSettings(listen="127.0.0.1:0"),
        signer=LinkSigner(database),
        timezone=str(fleet_tz),
        company="Acme Parcels",
    )


StartWeb = Callable[..., WebServer]


@pytest.fixture
def start_web() -> Iterator[StartWeb]:
    servers: list[WebServer] = []

    def start(ctx: WebContext, groups: Sequence[RouteGroup] | None = None) -> WebServer:
        server = WebServer(ctx, "127.0.0.1:0", groups)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def web(start_web: StartWeb, web_ctx: WebContext) -> WebServer:
    """The web front with every audience, live on loopback."""
    return start_web(web_ctx)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (.ci/setup.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=PHONE)`` → a page in a fresh context (cookies of its own)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **kwargs: Any) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, **kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()
