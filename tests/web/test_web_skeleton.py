"""The shared web front: serving, static files, headers, body limit, link signing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from dispatcher.errors import ConfigError
from dispatcher.persistence.database import Database
from dispatcher.persistence.web_repo import rotate_key
from dispatcher.web.server import WebServer
from dispatcher.web.settings import WebSettings, parse_listen
from dispatcher.web.signing import TOKEN_CHARS, LinkSigner


def test_the_server_serves_leaflet_offline_with_strict_headers(web: WebServer) -> None:
    with httpx.Client(base_url=web.base_url) as client:
        assert client.get("/healthz").text == "ok"
        js = client.get("/static/leaflet/leaflet.js")
        assert js.status_code == 200 and "Leaflet" in js.text[:2000]
        css = client.get("/static/web/web.css")
        assert css.status_code == 200
        assert "default-src 'none'" in css.headers["content-security-policy"]
        assert css.headers["x-content-type-options"] == "nosniff"
        assert client.get("/static/leaflet/../../../etc/passwd").status_code == 404


def test_an_oversized_body_is_refused_unread(web: WebServer) -> None:
    with httpx.Client(base_url=web.base_url) as client:
        big = client.post("/t/whatever", content=b"x" * (65 * 1024))
        assert big.status_code == 413


def test_a_link_verifies_only_unchanged_for_its_purpose_and_until_it_expires(
    database: Database, web_clock: Any
) -> None:
    signer = LinkSigner(database)
    now = web_clock.now()
    token = signer.sign("track", 4711, now + timedelta(days=2))
    assert len(token) == TOKEN_CHARS
    assert "4711" not in token
    assert signer.verify("track", token, now) == 4711
    assert signer.verify("driver", token, now) is None
    assert signer.verify("track", token, now + timedelta(days=3)) is None
    for i in range(len(token)):
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert signer.verify("track", flipped, now) is None
    for junk in ("", "x" * 39, "!" * 39, token + "A", "=" * 39):
        assert signer.verify("track", junk, now) is None
    # A second signer (another process) shares the key kept in the database.
    assert LinkSigner(database).verify("track", token, now) == 4711
    # Rotation: old links work until the old key is retired, then none does.
    rotate_key(database, now)
    signer.reload()
    assert signer.verify("track", token, now) == 4711
    rotate_key(database, now, retire_old=True)
    signer.reload()
    assert signer.verify("track", token, now) is None
    assert signer.verify("track", signer.sign("track", 5, now + timedelta(hours=1)), now) == 5


def test_web_settings_refuse_bad_values() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:8700") == ("::1", 8700)
    for bad in ("nohost", ":80", "h:99999", "h:x"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
    with pytest.raises(ConfigError):
        WebSettings.from_sections({"web": {"listne": "x"}})
    with pytest.raises(ConfigError):
        WebSettings.from_sections({"web": {"brand_color": "red;}"}})
    assert WebSettings.from_sections({}, listen="0.0.0.0:80").listen == "0.0.0.0:80"


def test_a_real_browser_shows_the_not_found_page_for_a_bad_link(web: WebServer, page: Any) -> None:
    response = page.goto(f"{web.base_url}/t/{'A' * TOKEN_CHARS}")
    assert response.status == 404
    assert page.locator("#not-found").is_visible()
    assert "Acme Parcels" in page.locator("header").inner_text()


def test_a_console_whose_web_port_is_taken_still_opens_and_says_why(sqlite_url: str) -> None:
    import socket

    from dispatcher.app import WEB_FRONT, build_core
    from dispatcher.config import Settings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(
            database_url=sqlite_url, sections={"web": {"listen": f"127.0.0.1:{port}"}}
        )
        core = build_core(settings)
        try:
            assert core.find_service(WebServer) is None
            assert "could not listen" in core.not_started[WEB_FRONT]
        finally:
            core.close()
