"""``dispatcher link ORDER_REF`` and ``dispatcher serve --web HOST:PORT``."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fleet_zone import DAY, utc

from dispatcher.cli import build_parser, run_headless
from dispatcher.clock import system_now
from dispatcher.config import Settings
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.scenario.demo import demo_scenario
from dispatcher.web.links import TRACK
from dispatcher.web.signing import LinkSigner

REPO = Path(__file__).resolve().parents[2]


def seeded(url: str, day: date = DAY) -> str:
    """Store a small demo day; returns one order reference."""
    db = Database(url)
    scenario = demo_scenario(day, n_orders=6, n_vehicles=2)
    with db.session() as session:
        fleet_repo.save_scenario(session, scenario)
    db.dispose()
    return scenario.orders[0].order_ref


def test_link_prints_a_signed_url_that_names_the_order_only_to_the_server(db_url: str) -> None:
    ref = seeded(db_url)
    settings = Settings(
        database_url=db_url, sections={"web": {"public_url": "https://track.example.com/"}}
    )
    out = io.StringIO()
    assert run_headless(build_parser().parse_args(["link", ref]), settings, out) == 0
    url = out.getvalue().strip()
    assert re.fullmatch(r"https://track\.example\.com/t/[A-Za-z0-9_-]{39}", url), url
    assert ref not in url
    db = Database(db_url)
    try:
        from dispatcher.persistence.messaging_repo import stop_id_of

        token = url.rsplit("/", 1)[1]
        signer = LinkSigner(db)
        assert signer.verify(TRACK, token, utc(9, 0)) == stop_id_of(db, ref)
        # It expires [web] link_days (7) days after the order's day.
        assert signer.verify(TRACK, token, utc(9, 0) + timedelta(days=8)) is None
    finally:
        db.dispose()
    missing = io.StringIO()
    assert run_headless(build_parser().parse_args(["link", "NOPE-1"]), settings, missing) == 1


def test_serve_web_refuses_a_bad_address() -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--web", "nowhere"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("workers", ["0", "33", "two"])
def test_serve_web_refuses_a_bad_number_of_workers(workers: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--web", "127.0.0.1:0", "--web-workers", workers])
    assert exit_.value.code == 2


@pytest.mark.mqtt
def test_serve_web_serves_the_tracking_page(mqtt_url: str, sqlite_url: str, tmp_path: Path) -> None:
    ref = seeded(sqlite_url, system_now().date())  # the server runs on the real clock
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'[broker]\nurl = "{mqtt_url}"\nprefix = "w{uuid.uuid4().hex[:8]}"\n')
    cmd = [sys.executable, str(REPO / "main.py"), "--config", str(cfg), "--db", sqlite_url]
    proc = subprocess.Popen(
        [*cmd, "serve", "--web", "127.0.0.1:0", "--web-workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        found = re.search(r"web front at (http://127\.0\.0\.1:\d+)", "".join(lines))
        assert found, lines
        base = found.group(1)
        assert httpx.get(base + "/healthz", timeout=10).text == "ok"
        out = subprocess.run(
            [*cmd, "link", ref], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
        token = out.rsplit("/", 1)[1]
        for _ in range(6):  # new connections: the serving process and its worker answer
            page = httpx.get(f"{base}/t/{token}", timeout=10, headers={"Connection": "close"})
            assert page.status_code == 200 and ref in page.text
        assert httpx.get(f"{base}/t/{token[:-1]}x", timeout=10).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
